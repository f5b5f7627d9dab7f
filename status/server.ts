/**
 * The status server of `run` and `sim` (fastify): the page, /health, /health/live, /metrics,
 * /api/snapshot, /api/machines and the event stream /api/events. Every route only reads; there is
 * no route that writes to a unit (only GET and HEAD exist). Loaded lazily: `check` and the other
 * commands never load fastify.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { ErrorCode, errorMessage, PlantbridgeError } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import { machineDefinitions } from "../machines/machine-catalogue.ts";
import { machineGraph } from "../machines/machine-graph.ts";
import type { HttpConfig } from "../schemas/plant-types.ts";
import { pageUrl } from "./address.ts";
import { createGate, type Gate, sessionCookie } from "./auth.ts";
import { registerEventStream } from "./event-stream.ts";
import type { StateFeed } from "./feed.ts";
import { healthReport } from "./health.ts";
import { createPlantMetrics } from "./metrics.ts";
import { plantView, type ViewClocks } from "./plant-view.ts";
import { registerRoutes } from "./routes.ts";
import { createSinkRates } from "./sink-rates.ts";
import type { StatusSource } from "./source.ts";
import { createTrendBuffer } from "./trend-buffer.ts";

export interface StatusServerOptions {
  http: HttpConfig;
  source: StatusSource;
  feed: StateFeed;
  log: Log;
  clocks?: ViewClocks;
  /** Period of the value updates on the event stream. Default 1000 ms. */
  valuesEveryMs?: number;
  /** A slow event-stream client is dropped past this many queued bytes. Default 1 MiB. */
  maxQueuedBytes?: number;
}

export interface StatusServer {
  /** The page's address, e.g. http://127.0.0.1:8480/ (the real port when 0 was asked for). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

const securityHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

function queryToken(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === "string" ? query.token : undefined;
}

/** Checks every request; a valid `?token=` on the page sets the session cookie and redirects to `/`. */
function guard(gate: Gate) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers(securityHeaders);
    const token = queryToken(request);
    const verdict = gate.check({
      authorization: request.headers.authorization,
      cookie: request.headers.cookie,
      token,
      host: request.headers.host,
    });
    if (verdict === "bad-host") {
      return reply
        .code(403)
        .type("text/plain")
        .send("plantbridge: this address is served to loopback names only\n");
    }
    if (verdict === "unauthorised") {
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="plantbridge"')
        .type("text/plain")
        .send(
          "plantbridge: a token is required (Authorization: Bearer TOKEN, or open the page once as /?token=TOKEN)\n",
        );
    }
    if (token !== undefined && gate.tokenRequired && request.url.split("?")[0] === "/") {
      return reply
        .header("set-cookie", `${sessionCookie}=${gate.sessionValue()}; Path=/; HttpOnly; SameSite=Strict`)
        .redirect("/", 303);
    }
  };
}

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const { http, source, feed, log } = options;
  const gate = createGate(http.host, http.token);
  const clocks: ViewClocks = options.clocks ?? { wall: Date.now, monotonic: () => performance.now() };
  const lagLimitSeconds = Math.max(30, (3 * source.plant.storage.periodMs) / 1000);
  const rates = createSinkRates({ windowMs: 10_000, lagLimitSeconds });
  const metrics = createPlantMetrics((unit) => source.meters.get(unit)?.figures().readLatency);
  const view = () => plantView(source, rates, clocks);
  const snapshotMessage = () => {
    const current = view();
    return { seq: feed.lastSeq(), view: current, health: healthReport(current) };
  };
  const graphs = Object.values(machineDefinitions).map(machineGraph);

  const trend = createTrendBuffer(source.plant);
  /** Once a second: rates and trend sampled; the whole view only for open pages (`forClients`). */
  const tick = (forClients: boolean) => {
    const delivered: Record<string, number> = {};
    for (const [name, actor] of Object.entries(source.snapshot().context.forwarders))
      delivered[name] = actor.getSnapshot().context.delivered;
    rates.sample(clocks.monotonic(), delivered);
    const current = forClients ? view() : plantView(source, rates, clocks, trend.tags);
    trend.add(current);
    return current;
  };
  tick(false);

  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addHook("onRequest", guard(gate));
  registerRoutes(app, { source, view, snapshot: snapshotMessage, metrics, trend, graphs });
  const events = registerEventStream(app, {
    feed,
    view,
    log,
    valuesEveryMs: options.valuesEveryMs ?? 1000,
    maxQueuedBytes: options.maxQueuedBytes ?? 1 << 20,
    tick,
  });
  app.setErrorHandler((error, _request, reply) => {
    log.error({ reason: errorMessage(error) }, `status server: ${errorMessage(error)}`);
    return reply.code(500).type("text/plain").send("plantbridge: internal error (see the log)\n");
  });

  try {
    await app.listen({ host: http.host, port: http.port });
  } catch (e) {
    events.stop();
    metrics.close();
    throw new PlantbridgeError(
      ErrorCode.CONFIG,
      `the status server cannot listen on ${http.host}:${http.port}: ${errorMessage(e)}; choose another with --http [HOST:]PORT or http.port, or turn it off with http: false`,
      { keyPath: "http" },
      { cause: e },
    );
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : http.port;
  const url = pageUrl(http.host, port);
  log.info({ host: http.host, port, tokenRequired: gate.tokenRequired }, `status page: ${url}`);
  return {
    url,
    host: http.host,
    port,
    async close() {
      events.stop();
      await app.close();
      metrics.close();
    },
  };
}
