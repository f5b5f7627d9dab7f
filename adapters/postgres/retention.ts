/**
 * Retention (storage.historian.retention, narrow layout): samples older than the retention are
 * deleted in small batches — at most `rowsPerStatement` rows per DELETE, each statement its own
 * short transaction (autocommit), found through the BRIN index on time and deleted by primary
 * key (safe on partitioned tables too) — never one huge DELETE. A pass starts from the sink's
 * write path at most once per `everyMs` (measured on the monotonic clock), runs in the
 * background beside delivery, and is counted and logged. The cutoff is the earlier of the
 * plant's wall clock and the database's, minus the retention: a clock that jumps ahead on one
 * side alone deletes nothing early.
 */
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import { withDeadline } from "../../lib/deadline.ts";
import { errorMessage } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { isoTime } from "./conflict-reason.ts";

export interface RetentionOptions {
  schema: string;
  retentionMs: number;
  /** Least time between two passes. Default one hour. */
  everyMs?: number;
  /** Rows per DELETE statement. Default 10 000. */
  rowsPerStatement?: number;
  /** A statement that takes longer is given up (the pass ends; the next one goes on). */
  statementDeadlineMs: number;
  monotonicNow: () => number;
  wallNow: () => number;
  log: Log;
}

export interface Retention {
  /**
   * Starts a pass in the background when one is due and none is running; returns it (it never
   * rejects: a failure is logged), or undefined when none was started.
   */
  poke(pool: () => Promise<DatabasePool>): Promise<void> | undefined;
  /** Stops between two statements; resolves when the running pass has ended. */
  stop(): Promise<void>;
  /** Samples deleted since the sink was created. */
  readonly deleted: number;
}

const cutoffRow = z.object({ cutoff: z.number() });

export function retention(options: RetentionOptions): Retention {
  const { schema, retentionMs, log } = options;
  const everyMs = options.everyMs ?? 3_600_000;
  const rowsPerStatement = options.rowsPerStatement ?? 10_000;
  const samples = sql.identifier([schema, "samples"]);
  let lastStart: number | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let deleted = 0;

  async function pass(db: DatabasePool): Promise<void> {
    const started = performance.now();
    const cutoff = await db.oneFirst(sql.type(cutoffRow)`
      SELECT (extract(epoch FROM least(now(), timestamptz 'epoch' + ${options.wallNow()} * interval '1 millisecond')
              - ${retentionMs} * interval '1 millisecond') * 1000)::float8 AS cutoff`);
    const before = sql.fragment`timestamptz 'epoch' + ${cutoff} * interval '1 millisecond'`;
    let rows = 0;
    let statements = 0;
    while (!stopped) {
      const result = await withDeadline(
        db.query(sql.unsafe`
          DELETE FROM ${samples} AS s
          USING (SELECT tag_id, time FROM ${samples} WHERE time < ${before} LIMIT ${rowsPerStatement}) AS old
          WHERE s.tag_id = old.tag_id AND s.time = old.time AND s.time < ${before}`),
        options.statementDeadlineMs,
        () => new Error(`a retention DELETE took longer than ${options.statementDeadlineMs} ms`),
      );
      statements += 1;
      rows += result.rowCount;
      deleted += result.rowCount;
      if (result.rowCount < rowsPerStatement) break;
    }
    const level = rows > 0 ? "info" : "debug";
    log[level](
      {
        deleted: rows,
        statements,
        before: isoTime(cutoff),
        ms: Math.round(performance.now() - started),
        deletedSinceStart: deleted,
      },
      `historian retention: deleted ${rows} sample(s) older than ${isoTime(cutoff)} in ${statements} statement(s)`,
    );
  }

  return {
    get deleted() {
      return deleted;
    },
    poke(pool) {
      if (stopped || running !== undefined) return undefined;
      const now = options.monotonicNow();
      if (lastStart !== undefined && now - lastStart < everyMs) return undefined;
      lastStart = now;
      const started = pool()
        .then(pass)
        .catch((e: unknown) => {
          // Cut short by close(): not a failure worth a warning.
          if (stopped) return;
          log.warn(
            { err: errorMessage(e) },
            `historian retention pass failed (the next pass tries again): ${errorMessage(e)}`,
          );
        })
        .finally(() => {
          running = undefined;
        });
      running = started;
      return started;
    },
    async stop() {
      stopped = true;
      await running;
    },
  };
}
