/**
 * One Server-Sent Events client with a bounded queue. While the socket takes what is written,
 * messages go straight out. When it does not (a slow client), messages wait in a queue: a newer
 * `values` message replaces a waiting one (coalesced), state changes are kept in order; past
 * `maxQueuedBytes` the client is dropped (it reconnects and starts from a fresh snapshot). Memory
 * per client never grows without bound.
 */
import type { ServerResponse } from "node:http";

export interface SseClient {
  /** `coalesce`: a waiting message of the same event name is replaced by this one. */
  send(event: string, data: unknown, coalesce?: boolean): void;
  close(): void;
  readonly closed: boolean;
}

interface Queued {
  event: string;
  text: string;
  coalesce: boolean;
}

export function openSseClient(
  res: ServerResponse,
  options: { maxQueuedBytes: number; retryMs: number; onDropped: (queuedBytes: number) => void },
): SseClient {
  const queue: Queued[] = [];
  let queuedBytes = 0;
  let congested = false;
  let closed = false;

  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write(`retry: ${options.retryMs}\n\n`);

  const flush = () => {
    congested = false;
    while (queue.length > 0 && !congested) {
      const next = queue.shift() as Queued;
      queuedBytes -= next.text.length;
      congested = !res.write(next.text);
    }
  };
  res.on("drain", flush);
  res.on("close", () => {
    closed = true;
    queue.length = 0;
  });

  return {
    get closed() {
      return closed;
    },
    send(event, data, coalesce = false) {
      if (closed) return;
      const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      if (!congested && queue.length === 0) {
        congested = !res.write(text);
        return;
      }
      if (coalesce) {
        const waiting = queue.findIndex((q) => q.coalesce && q.event === event);
        if (waiting >= 0) {
          queuedBytes -= queue[waiting]?.text.length ?? 0;
          queue.splice(waiting, 1);
        }
      }
      queue.push({ event, text, coalesce });
      queuedBytes += text.length;
      if (queuedBytes > options.maxQueuedBytes) {
        options.onDropped(queuedBytes);
        closed = true;
        queue.length = 0;
        res.destroy();
      }
    },
    close() {
      if (closed) return;
      closed = true;
      res.end();
    },
  };
}
