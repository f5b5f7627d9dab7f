/**
 * Runs a layout's upkeep (building a missing index with CREATE INDEX CONCURRENTLY, looking for
 * duplicate times) in the background, on a pool of its own (one connection, a long statement
 * timeout), so delivery never waits for it and the sink's pool is never held by it. A failure is
 * logged at warn and tried again at the next open; `stop()` (at close) ends its connection, which
 * cancels a running build — the invalid index it leaves is dropped and built again next time.
 */
import type { CommonQueryMethods, DatabasePool } from "slonik";
import { errorMessage } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { createHistorianPool } from "./pool.ts";

export interface UpkeepOptions {
  url: string;
  log: Log;
  connectionTimeoutMs: number;
  /** Statement timeout for the upkeep's statements (an index on a big table takes a while). */
  statementTimeoutMs: number;
  work: (db: CommonQueryMethods, stopped: () => boolean) => Promise<void>;
}

export interface Upkeep {
  /** Resolves when the work is over (done, failed or stopped). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export function startUpkeep(options: UpkeepOptions): Upkeep {
  const { log } = options;
  let stopped = false;
  let pool: DatabasePool | undefined;
  let ending: Promise<void> | undefined;
  const end = () => {
    ending ??= pool?.end().catch(() => undefined);
    return ending ?? Promise.resolve();
  };
  const done = (async () => {
    try {
      pool = await createHistorianPool(options.url, {
        connectionTimeoutMs: options.connectionTimeoutMs,
        statementTimeoutMs: options.statementTimeoutMs,
        maxConnections: 1,
        log,
      });
      if (!stopped) await options.work(pool, () => stopped);
    } catch (e) {
      if (!stopped) {
        log.warn(
          { err: errorMessage(e) },
          `historian upkeep failed (tried again at the next open): ${errorMessage(e)}`,
        );
      }
    } finally {
      await end();
    }
  })();
  return {
    done,
    async stop() {
      stopped = true;
      await end();
      await done;
    },
  };
}
