/**
 * The PostgreSQL historian sink (slonik 49). Works the same against the embedded PostgreSQL,
 * an external PostgreSQL or TimescaleDB: only the URL differs.
 *
 * - `open(tags)` creates the schema and the layout's tables if missing (under an advisory lock,
 *   so several processes may start at once) and registers the tags.
 * - `write(batch)` is one transaction, idempotent on (tag, time). Failures are classified at
 *   this edge: PB_ERR_HISTORIAN_UNAVAILABLE (retry the same batch later) or
 *   PB_ERR_HISTORIAN_REJECTED (the database refused the data; split and dead-letter).
 * - Every call has a client-side deadline on top of the server's statement timeout, so a
 *   silent network never hangs the forwarder. After an outage the pool is rebuilt.
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
import type { HistorianConfig } from "../../schemas/plant-types.ts";
import type { HistorianSink, SpooledSample, TagInfo } from "../types.ts";
import { classifyHistorianError } from "./classify-error.ts";
import type { HistorianLayout } from "./layout.ts";
import { narrowLayout } from "./narrow-layout.ts";
import { createHistorianPool } from "./pool.ts";
import { wideLayout } from "./wide-layout.ts";

export interface PostgresSinkOptions {
  /** postgres://user:password@host:port/database — never logged. */
  url: string;
  historian: HistorianConfig;
  log: Log;
  /** The sink's name, also its cursor in the spool. Default "postgres". */
  name?: string;
  /** Connect within this (default 5000 ms). */
  connectionTimeoutMs?: number;
  /** Server-side statement timeout (default 15000 ms); a batch must commit within it. */
  statementTimeoutMs?: number;
  /** `ping()` answers false after this (default 2000 ms). */
  pingTimeoutMs?: number;
}

const one = z.object({ ok: z.number() });

function layoutFor(historian: HistorianConfig, log: Log): HistorianLayout {
  if (historian.layout === "narrow") return narrowLayout(historian.schema);
  if (historian.table === undefined || historian.columns === undefined) {
    throw new PlantbridgeError(ErrorCode.CONFIG, "historian layout wide needs a table and its columns", {
      keyPath: "storage.historian",
    });
  }
  return wideLayout(
    {
      schema: historian.schema,
      table: historian.table,
      timeColumn: historian.timeColumn ?? "time",
      columns: historian.columns,
    },
    log,
  );
}

/** The unit and tag a batch concerns, when it concerns one tag only. */
function originOf(batch: readonly SpooledSample[]): ErrorOrigin {
  const first = batch[0]?.tag;
  if (first === undefined || batch.some((s) => s.tag !== first)) return {};
  const dot = first.indexOf(".");
  return dot > 0 ? { unit: first.slice(0, dot), tag: first.slice(dot + 1) } : { tag: first };
}

export function createPostgresSink(options: PostgresSinkOptions): HistorianSink {
  const { url, historian } = options;
  const name = options.name ?? "postgres";
  // Every line names the sink, once (the caller may have bound it already).
  const log = "sink" in options.log.bindings() ? options.log : options.log.child({ sink: name });
  const connectionTimeoutMs = options.connectionTimeoutMs ?? 5_000;
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;
  const pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  // createPool connects once, then the call acquires a connection: two connects and a statement.
  const callDeadlineMs = 2 * connectionTimeoutMs + statementTimeoutMs + 1_000;
  const layout = layoutFor(historian, log);
  const lockKey = `plantbridge:${historian.schema}`;

  let pool: DatabasePool | undefined;
  let creating: Promise<DatabasePool> | undefined;
  let opened = false;
  let closed = false;

  function notOpen(what: string): PlantbridgeError {
    return new PlantbridgeError(
      ErrorCode.NOT_CONNECTED,
      `historian ${name}: ${what} ${closed ? "after close" : "before open() succeeded"}`,
    );
  }

  function ensurePool(): Promise<DatabasePool> {
    if (closed) return Promise.reject(notOpen("use"));
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

  /**
   * Forgets the pool after an outage: its connections may be dead or hung, and a pool still
   * connecting may hang too. The next call builds a new one.
   */
  function dropPool(): void {
    const old = pool;
    pool = undefined;
    creating = undefined;
    old?.end().catch((e: unknown) => log.debug({ err: errorMessage(e) }, "historian pool end after outage"));
  }

  async function call<T>(
    context: string,
    origin: ErrorOrigin,
    work: (pool: DatabasePool) => Promise<T>,
  ): Promise<T> {
    try {
      return await withDeadline(
        ensurePool().then(work),
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
    name,

    async open(tags: readonly TagInfo[]): Promise<void> {
      if (closed) throw notOpen("open");
      const context = `historian ${name}: open`;
      await call(context, {}, async (db) => {
        const publish = await db.transaction(async (tx) => {
          await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`);
          const schemaExists = await tx.oneFirst(
            sql.type(z.object({ present: z.boolean() }))`
              SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${historian.schema}) AS present`,
          );
          if (!schemaExists)
            await tx.query(sql.unsafe`CREATE SCHEMA IF NOT EXISTS ${sql.identifier([historian.schema])}`);
          return layout.create(tx, tags);
        });
        publish();
      });
      opened = true;
      log.info({ schema: historian.schema, layout: layout.kind, tags: tags.length }, "historian open");
    },

    async write(batch: readonly SpooledSample[]): Promise<void> {
      if (!opened || closed) throw notOpen("write");
      if (batch.length === 0) return;
      const first = batch[0]?.seq;
      const last = batch.at(-1)?.seq;
      const context = `historian ${name}: write of ${batch.length} samples (seq ${first}..${last})`;
      const origin = originOf(batch);
      const outcome = await call(context, origin, (db) => db.transaction((tx) => layout.write(tx, batch)));
      outcome.afterCommit();
      log.debug({ samples: batch.length, rows: outcome.rows, first, last }, "historian batch written");
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
      await current?.end();
      log.info("historian closed");
    },
  };
}
