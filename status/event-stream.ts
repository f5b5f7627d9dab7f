/**
 * `GET /api/events`: a Server-Sent Events stream. On connect, `hello` with the current view and
 * the sequence number it is current to; then every machine state change (`state`, in order, from
 * the state feed) and the values every `valuesEveryMs` (`values`, coalesced for a slow client).
 */
import type { FastifyInstance } from "fastify";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { StateFeed } from "./feed.ts";
import { healthReport } from "./health.ts";
import type { PlantView } from "./plant-view.ts";
import { openSseClient, type SseClient } from "./sse.ts";

export interface EventStreamOptions {
  feed: StateFeed;
  view: () => PlantView;
  log: Log;
  valuesEveryMs: number;
  maxQueuedBytes: number;
  /**
   * Runs every `valuesEveryMs`, clients or not (rates and trend are sampled here); gives the view to
   * send, whole when `forClients` (a page is open), else only what the trend needs.
   */
  tick: (forClients: boolean) => PlantView;
}

export function registerEventStream(app: FastifyInstance, options: EventStreamOptions): { stop(): void } {
  const clients = new Set<SseClient>();
  const unsubscribe = options.feed.subscribe((change) => {
    for (const client of clients) client.send("state", change);
  });
  const timer = setInterval(() => {
    try {
      const view = options.tick(clients.size > 0);
      if (clients.size === 0) return;
      const message = { view, health: healthReport(view) };
      for (const client of clients) client.send("values", message, true);
    } catch (e) {
      options.log.warn({ reason: errorMessage(e) }, `status values not sent: ${errorMessage(e)}`);
    }
  }, options.valuesEveryMs);
  timer.unref();

  app.get("/api/events", (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    for (const [name, value] of Object.entries(reply.getHeaders()))
      if (value !== undefined) raw.setHeader(name, value);
    const client = openSseClient(raw, {
      maxQueuedBytes: options.maxQueuedBytes,
      retryMs: 2000,
      onDropped: (bytes) =>
        options.log.warn(
          { queuedBytes: bytes, remote: request.ip },
          "status event stream: a client too slow to keep up was dropped (it reconnects with a fresh snapshot)",
        ),
    });
    clients.add(client);
    raw.on("close", () => clients.delete(client));
    const view = options.view();
    client.send("hello", { seq: options.feed.lastSeq(), view, health: healthReport(view) });
  });

  return {
    stop() {
      clearInterval(timer);
      unsubscribe();
      for (const client of clients) client.close();
      clients.clear();
    },
  };
}
