/**
 * The status server's read-only routes: health, liveness, metrics, the JSON API and the page's
 * files. Only GET (and the HEAD fastify adds) exist; no route writes anything anywhere.
 */
import type { FastifyInstance } from "fastify";
import type { MachineGraph } from "../machines/machine-graph.ts";
import { healthReport, liveness } from "./health.ts";
import type { PlantMetrics } from "./metrics.ts";
import { pageFiles, readPageFile } from "./page-files.ts";
import type { PlantView } from "./plant-view.ts";
import type { StatusSource } from "./source.ts";
import type { TrendBuffer } from "./trend-buffer.ts";

export interface RouteDeps {
  source: StatusSource;
  view: () => PlantView;
  /** `{ seq, view, health }`, as the event stream's `hello`. */
  snapshot: () => unknown;
  metrics: PlantMetrics;
  trend: TrendBuffer;
  graphs: readonly MachineGraph[];
}

const fresh = { "cache-control": "no-store" } as const;

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get("/health", async (_request, reply) => {
    const report = healthReport(deps.view());
    return reply
      .code(report.ok ? 200 : 503)
      .headers(fresh)
      .send(report);
  });
  app.get("/health/live", async (_request, reply) => {
    const live = liveness(deps.source.snapshot());
    return reply
      .code(live.live ? 200 : 503)
      .headers(fresh)
      .send(live);
  });
  app.get("/metrics", async (_request, reply) => {
    const text = await deps.metrics.scrape(deps.view());
    return reply.headers(fresh).type(deps.metrics.contentType).send(text);
  });
  app.get("/api/snapshot", async (_request, reply) => reply.headers(fresh).send(deps.snapshot()));
  app.get("/api/trend", async (_request, reply) => reply.headers(fresh).send(deps.trend.trends()));
  app.get("/api/machines", async (_request, reply) => reply.headers(fresh).send(deps.graphs));
  for (const [path, file] of Object.entries(pageFiles)) {
    app.get(path, async (_request, reply) =>
      reply
        .header("cache-control", "no-cache")
        .type(file.type)
        .send(await readPageFile(file)),
    );
  }
}
