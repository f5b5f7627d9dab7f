/**
 * The PostgreSQL historian sink (slonik 49). Works the same against the embedded PostgreSQL,
 * an external PostgreSQL or TimescaleDB: only the URL differs.
 *
 * - `open(tags)` creates the schema and the layout's tables if missing (under an advisory lock,
 *   so several processes may start at once), registers the tags, and starts the layout's upkeep
 *   (a missing time index, built in the background; table-upkeep.ts).
 * - `write(batch)` is one transaction, idempotent on (tag, time); it resolves with the samples
 *   that conflict with values already stored (never overwritten). Failures are classified at
 *   this edge: PB_ERR_HISTORIAN_UNAVAILABLE (retry the same batch later) or
 *   PB_ERR_HISTORIAN_REJECTED (the database refused the data; split and dead-letter).
 * - Drift (drift.ts): a schema, table or column dropped or recreated while plantbridge runs is
 *   recreated, the caches are re-read, it is logged at warn, and the batch is retried once.
 * - Retention (retention.ts), when configured, runs from the write path about once an hour.
 * - Every call has a client-side deadline on top of the server's statement timeout, so a
 *   silent network never hangs the forwarder. After an outage the pool is rebuilt.
 */
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import { ErrorCode, type ErrorOrigin, isPlantbridgeError, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { HistorianConfig } from "../../schemas/plant-types.ts";
import type { HistorianSink, SpooledSample, TagInfo } from "../types.ts";
import { driftIn, HistorianDrift } from "./drift.ts";
import type { HistorianLayout, LayoutWrite } from "./layout.ts";
import { processTimeZone } from "./local-time.ts";
import { narrowLayout } from "./narrow-layout.ts";
import { type Retention, retention } from "./retention.ts";
import { type SinkLinks, sinkConnection } from "./sink-connection.ts";
import { startUpkeep, type Upkeep } from "./table-upkeep.ts";
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
  /**
   * Writer connections (default 2): batches written at the same time (the forwarder keeps up to
   * this many in flight) each commit in a transaction of their own.
   */
  writers?: number;
  /** `ping()` answers false after this (default 2000 ms). */
  pingTimeoutMs?: number;
  /** Statement timeout of the background upkeep, e.g. building an index (default 1 h). */
  upkeepStatementTimeoutMs?: number;
  /** Retention: least time between passes (default 1 h) and rows per DELETE (default 10 000). */
  retentionEveryMs?: number;
  retentionRowsPerStatement?: number;
  /** Monotonic clock for retention's schedule (default performance.now). */
  monotonicNow?: () => number;
  /** Wall clock for retention's cutoff (default Date.now). */
  wallNow?: () => number;
}

const present = z.object({ present: z.boolean() });

function layoutFor(historian: HistorianConfig, log: Log): HistorianLayout {
  const alterTable = historian.alterTable;
  if (historian.layout === "narrow") return narrowLayout({ schema: historian.schema, alterTable, log });
  if (historian.table === undefined || historian.columns === undefined) {
    throw new PlantbridgeError(ErrorCode.CONFIG, "historian layout wide needs a table and its columns", {
      keyPath: "storage.historian",
    });
  }
  return wideLayout({
    schema: historian.schema,
    table: historian.table,
    timeColumn: historian.timeColumn ?? "time",
    columns: historian.columns,
    alterTable,
    timeZone: historian.timeZone ?? processTimeZone(),
    log,
  });
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
  const writers = options.writers ?? 2;
  const connection = sinkConnection({
    url,
    name,
    log,
    connectionTimeoutMs,
    statementTimeoutMs: options.statementTimeoutMs ?? 15_000,
    pingTimeoutMs: options.pingTimeoutMs ?? 2_000,
    writers,
  });
  const layout = layoutFor(historian, log);
  const lockKey = `plantbridge:${historian.schema}`;
  const keeper: Retention | undefined =
    historian.retentionMs !== undefined && layout.kind === "narrow"
      ? retention({
          schema: historian.schema,
          retentionMs: historian.retentionMs,
          ...(options.retentionEveryMs !== undefined ? { everyMs: options.retentionEveryMs } : {}),
          ...(options.retentionRowsPerStatement !== undefined
            ? { rowsPerStatement: options.retentionRowsPerStatement }
            : {}),
          statementDeadlineMs: connection.callDeadlineMs,
          monotonicNow: options.monotonicNow ?? (() => performance.now()),
          wallNow: options.wallNow ?? (() => Date.now()),
          log,
        })
      : undefined;

  let tags: readonly TagInfo[] = [];
  let opened = false;
  let upkeep: Upkeep | undefined;
  let lastConfigProblem: string | undefined;

  function notOpen(what: string): PlantbridgeError {
    return new PlantbridgeError(
      ErrorCode.NOT_CONNECTED,
      `historian ${name}: ${what} ${connection.closed ? "after close" : "before open() succeeded"}`,
    );
  }

  /** Creates whatever is missing (schema, tables, tags) in one transaction; returns what it did. */
  async function createAll(db: DatabasePool): Promise<string[]> {
    const created = await db.transaction(async (tx) => {
      await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`);
      const changes: string[] = [];
      const schemaExists = await tx.oneFirst(
        sql.type(
          present,
        )`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${historian.schema}) AS present`,
      );
      if (!schemaExists) {
        await tx.query(sql.unsafe`CREATE SCHEMA IF NOT EXISTS ${sql.identifier([historian.schema])}`);
        changes.push(`created schema ${historian.schema}`);
      }
      const made = await layout.create(tx, tags);
      return { changes: [...changes, ...made.changes], publish: made.publish };
    });
    created.publish();
    return created.changes;
  }

  function keepTables(): void {
    if (upkeep !== undefined || connection.closed) return;
    const started = startUpkeep({
      url,
      log,
      connectionTimeoutMs,
      statementTimeoutMs: options.upkeepStatementTimeoutMs ?? 3_600_000,
      work: (db, stopped) => layout.upkeep(db, stopped),
    });
    upkeep = started;
    void started.done.then(() => {
      if (upkeep === started) upkeep = undefined;
    });
  }

  /** One transaction of the layout: the narrow one on the writer connection, the wide one on the pool. */
  async function writeOnce(links: SinkLinks, batch: readonly SpooledSample[]): Promise<LayoutWrite> {
    if (layout.kind === "narrow") {
      const narrow = layout;
      const prepared = narrow.prepare(batch);
      return links.withWriter((writer) => narrow.write(writer, prepared));
    }
    const wide = layout;
    return (await links.pool()).transaction((tx) => wide.write(tx, batch));
  }

  /** One transaction; on drift, recreate what is missing and retry once. */
  async function writeHealing(links: SinkLinks, batch: readonly SpooledSample[], context: string) {
    let outcome: LayoutWrite;
    try {
      outcome = await writeOnce(links, batch);
    } catch (e) {
      const found = driftIn(e);
      if (found === undefined) throw e;
      const did = await createAll(await links.pool());
      log.warn(
        { found, did },
        `historian ${name}: drift: ${found}; ${did.length > 0 ? did.join("; ") : "nothing was missing, caches re-read"}; retrying the batch once`,
      );
      keepTables();
      try {
        outcome = await writeOnce(links, batch);
      } catch (again) {
        if (!(again instanceof HistorianDrift)) throw again;
        throw new PlantbridgeError(
          ErrorCode.HISTORIAN_UNAVAILABLE,
          `${context}: the historian's tables keep changing: ${again.message}`,
        );
      }
    }
    return outcome;
  }

  return {
    name,
    // The wide layout locks its table per batch: batches in flight at once would only queue.
    pipelineDepth: layout.kind === "narrow" ? writers : 1,

    async open(openTags: readonly TagInfo[]): Promise<void> {
      if (connection.closed) throw notOpen("open");
      tags = openTags;
      let changes: string[];
      try {
        changes = await connection.call(`historian ${name}: open`, {}, createAll);
      } catch (e) {
        // A table that does not fit the plant file: said once at error (the forwarder retries the
        // open, so a DBA's fix is picked up without a restart).
        if (isPlantbridgeError(e, ErrorCode.CONFIG) && e.message !== lastConfigProblem) {
          lastConfigProblem = e.message;
          log.error({ keyPath: e.origin.keyPath }, `historian ${name} cannot open: ${e.message}`);
        }
        throw e;
      }
      lastConfigProblem = undefined;
      opened = true;
      log.info(
        { schema: historian.schema, layout: layout.kind, tags: tags.length, changes },
        "historian open",
      );
      keepTables();
    },

    async write(batch: readonly SpooledSample[]) {
      if (!opened || connection.closed) throw notOpen("write");
      if (batch.length === 0) return { conflicts: [] };
      const first = batch[0]?.seq;
      const last = batch.at(-1)?.seq;
      const context = `historian ${name}: write of ${batch.length} samples (seq ${first}..${last})`;
      const outcome = await connection.callLinks(context, originOf(batch), (links) =>
        writeHealing(links, batch, context),
      );
      outcome.afterCommit();
      const conflicts = outcome.conflicts.length;
      log.debug(
        { samples: batch.length, rows: outcome.rows, conflicts, first, last },
        "historian batch written",
      );
      keeper?.poke(connection.pool);
      return { conflicts: outcome.conflicts };
    },

    ping: () => connection.ping(),

    async close(): Promise<void> {
      if (connection.closed) return;
      const background = [upkeep?.stop(), keeper?.stop()];
      await connection.close();
      await Promise.all(background);
      log.info("historian closed");
    },
  };
}
