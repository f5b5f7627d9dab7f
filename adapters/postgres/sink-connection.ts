/**
 * The historian sink's link to PostgreSQL: a small slonik pool and the writer connection (a plain
 * pg Client for binary COPY, pg-writer.ts), each built on first use and thrown away after an outage
 * (their connections may be dead or hung), and `call`, which bounds every piece of work
 * with a client-side deadline on top of the server's statement timeout and classifies what it
 * throws at this edge (PB_ERR_HISTORIAN_UNAVAILABLE or PB_ERR_HISTORIAN_REJECTED).
 */
import type { DatabasePool } from "slonik";
import { sql } from "slonik";
import { z } from "zod";
import { withDeadline } from "../../lib/deadline.ts";
import {
  ErrorCode,
  type ErrorOrigin,
  errorMessage,
  isPlantbridgeError,
  PlantbridgeError,
} from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { classifyHistorianError } from "./classify-error.ts";
import type { WriterConnection } from "./pg-writer.ts";
import { createHistorianPool } from "./pool.ts";
import { writerPool } from "./writer-pool.ts";

export interface SinkConnectionOptions {
  url: string;
  name: string;
  log: Log;
  connectionTimeoutMs: number;
  statementTimeoutMs: number;
  pingTimeoutMs: number;
  /** Writer connections: batches written at the same time each get one. */
  writers: number;
}

export interface SinkConnection {
  /** Runs `work` on the pool within the deadline; rejects with a coded historian error. */
  call<T>(context: string, origin: ErrorOrigin, work: (pool: DatabasePool) => Promise<T>): Promise<T>;
  /** Like `call`, for work that needs the writer connection (and maybe the pool), built on demand. */
  callLinks<T>(context: string, origin: ErrorOrigin, work: (links: SinkLinks) => Promise<T>): Promise<T>;
  /** The pool (built if needed), for work that classifies its own failures (retention). */
  pool(): Promise<DatabasePool>;
  /** The most a call may take: 2 connects and a statement, plus a second. */
  readonly callDeadlineMs: number;
  ping(): Promise<boolean>;
  close(): Promise<void>;
  readonly closed: boolean;
}

/** The sink's two ways to the database, each connected on first use. */
export interface SinkLinks {
  pool(): Promise<DatabasePool>;
  /** Runs `work` on a writer connection of its own (one transaction's worth of work). */
  withWriter<T>(work: (writer: WriterConnection) => Promise<T>): Promise<T>;
}

const one = z.object({ ok: z.number() });

export function sinkConnection(options: SinkConnectionOptions): SinkConnection {
  const { url, name, log, connectionTimeoutMs, statementTimeoutMs, pingTimeoutMs } = options;
  // createPool connects once, then the call acquires a connection: two connects and a statement.
  const callDeadlineMs = 2 * connectionTimeoutMs + statementTimeoutMs + 1_000;
  let pool: DatabasePool | undefined;
  let creating: Promise<DatabasePool> | undefined;
  const writers = writerPool({
    url,
    name,
    log,
    connectionTimeoutMs,
    statementTimeoutMs,
    size: options.writers,
  });
  let closed = false;

  const closedError = () =>
    new PlantbridgeError(ErrorCode.NOT_CONNECTED, `historian ${name}: used after close`);

  function ensurePool(): Promise<DatabasePool> {
    if (closed) return Promise.reject(closedError());
    if (pool !== undefined) return Promise.resolve(pool);
    if (creating !== undefined) return creating;
    const attempt: Promise<DatabasePool> = createHistorianPool(url, {
      connectionTimeoutMs,
      statementTimeoutMs,
      maxConnections: 2,
      log,
    }).then(
      (created) => {
        const current = creating === attempt;
        if (current) creating = undefined;
        // Closed meanwhile, or given up on (dropPool) while it was connecting: not ours to keep.
        if (closed || !current) {
          void created.end().catch(() => undefined);
          throw new PlantbridgeError(
            ErrorCode.HISTORIAN_UNAVAILABLE,
            `historian ${name}: connection given up`,
          );
        }
        pool = created;
        return created;
      },
      (e: unknown) => {
        if (creating === attempt) creating = undefined;
        throw e;
      },
    );
    creating = attempt;
    return attempt;
  }

  /** After an outage: the pool and the writer may hold dead or hung connections. */
  function dropPool(): void {
    const old = pool;
    pool = undefined;
    creating = undefined;
    old?.end().catch((e: unknown) => log.debug({ err: errorMessage(e) }, "historian pool end after outage"));
    writers.drop();
  }

  /** Bounds `work` with the call deadline and turns what it throws into a coded historian error. */
  async function bounded<T>(context: string, origin: ErrorOrigin, work: Promise<T>): Promise<T> {
    try {
      return await withDeadline(
        work,
        callDeadlineMs,
        () =>
          new PlantbridgeError(
            ErrorCode.HISTORIAN_UNAVAILABLE,
            `${context}: no answer within ${callDeadlineMs} ms`,
            origin,
          ),
      );
    } catch (e) {
      if (isPlantbridgeError(e)) {
        if (e.code === ErrorCode.HISTORIAN_UNAVAILABLE) dropPool();
        throw e;
      }
      const { error, known, sqlState } = classifyHistorianError(e, context, origin);
      if (error.code === ErrorCode.HISTORIAN_UNAVAILABLE) {
        dropPool();
        if (known) {
          log.debug({ sqlState, err: errorMessage(e) }, `${context}: historian unavailable`);
        } else {
          log.error({ sqlState, err: errorMessage(e) }, `${context}: unexpected error, will retry`);
        }
      } else {
        log.warn({ sqlState, err: errorMessage(e) }, `${context}: the database refused the data`);
      }
      throw error;
    }
  }

  return {
    callDeadlineMs,
    get closed() {
      return closed;
    },
    pool: ensurePool,

    call<T>(context: string, origin: ErrorOrigin, work: (pool: DatabasePool) => Promise<T>): Promise<T> {
      return bounded(context, origin, ensurePool().then(work));
    },

    callLinks<T>(context: string, origin: ErrorOrigin, work: (links: SinkLinks) => Promise<T>): Promise<T> {
      return bounded(context, origin, work({ pool: ensurePool, withWriter: (w) => writers.use(w) }));
    },

    async ping(): Promise<boolean> {
      if (closed) return false;
      try {
        await withDeadline(
          ensurePool().then((db) => db.oneFirst(sql.type(one)`SELECT 1 AS ok`)),
          pingTimeoutMs,
          () =>
            new PlantbridgeError(
              ErrorCode.TIMEOUT,
              `historian ${name}: ping unanswered in ${pingTimeoutMs} ms`,
            ),
        );
        return true;
      } catch (e) {
        log.debug({ err: errorMessage(e) }, "historian ping failed");
        dropPool();
        return false;
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const pending = creating;
      const current = pool;
      pool = undefined;
      await pending?.catch(() => undefined);
      await writers.close();
      await current?.end();
    },
  };
}
