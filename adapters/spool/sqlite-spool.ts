/**
 * The store-and-forward spool on Node's built-in node:sqlite (WAL).
 *
 * Samples enter in append order and get a sequence number that is never reused
 * (AUTOINCREMENT). Each sink has its own delivery cursor; a sample leaves the file once every
 * configured sink has acknowledged it. A sample appended twice (same tag and time) is kept once
 * and counted as a duplicate when its value is the same, kept as a dead letter (a conflict) when
 * it is not (spool-append.ts). The file is bounded: past `maxSamples` the oldest samples are
 * dropped, past `maxDeadLetters` the oldest dead letters — counted and logged, never silently
 * (spool-bound.ts, in-flight.ts). One process owns the file at a time (spool-lock.ts).
 *
 * Delivery is at-least-once: a crash between a sink's write and its `ack` delivers the
 * same samples again, and the sinks are idempotent on (tag, time).
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Spool } from "../types.ts";
import { type DeadLetter, readDeadLetters } from "./dead-letters.ts";
import { asSpoolError } from "./spool-errors.ts";
import { claimSpool, type SpoolOwnership } from "./spool-lock.ts";
import { checkOptions, loadState, openSpoolDatabase, type SpoolOptions } from "./spool-open.ts";
import {
  ack,
  appendSamples,
  attempt,
  closeSpool,
  deadLetter,
  oldestPendingTime,
  readBatch,
  type SqliteSpoolStats,
  statsOf,
} from "./spool-operations.ts";
import type { SpoolState } from "./spool-state.ts";

export type { DeadLetter } from "./dead-letters.ts";
export { defaultMaxDeadLetters, type SpoolOptions } from "./spool-open.ts";
export type { SqliteSpoolStats } from "./spool-operations.ts";

export interface SqliteSpool extends Spool {
  readonly path: string;
  stats(): SqliteSpoolStats;
  /** Dead letters of one sink (or `conflict`), oldest first. */
  readDeadLetters(sink: string, limit: number): DeadLetter[];
  /** Time (epoch ms) of the oldest sample the sink has not acknowledged; null when it has them all. Reads only. */
  oldestPendingTime(sink: string): number | null;
}

export function openSpool(options: SpoolOptions): SqliteSpool {
  const { sinks, maxDeadLetters } = checkOptions(options);
  const ownership = claimSpool(options.path, "plant");
  let state: SpoolState;
  try {
    const db = openSpoolDatabase(options.path, options.synchronous);
    try {
      state = loadState(db, options, sinks, maxDeadLetters);
    } catch (e) {
      db.close();
      throw asSpoolError(options.path, "open", e);
    }
  } catch (e) {
    ownership.release();
    throw e;
  }
  const { held, lastSeq, counters, deadLetters } = state;
  options.log.info(
    {
      spool: options.path,
      held,
      lastSeq,
      sinks,
      dropped: counters.dropped,
      deadLettered: counters.deadLettered,
      deadLetters,
    },
    "spool open",
  );
  return spoolApi(state, ownership);
}

function spoolApi(state: SpoolState, ownership: SpoolOwnership): SqliteSpool {
  let closed = false;
  const usable = (op: string): SpoolState => {
    if (closed) throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${state.path}: ${op} after close`);
    return state;
  };
  return {
    path: state.path,
    append: (samples) => appendSamples(usable("append"), samples),
    readBatch: (sink, limit, after) => readBatch(usable("readBatch"), sink, limit, after),
    ack: (sink, seq) => ack(usable("ack"), sink, seq),
    deadLetter: (sink, samples, reason) => deadLetter(usable("deadLetter"), sink, samples, reason),
    readDeadLetters: (sink, limit) =>
      attempt(usable("readDeadLetters"), "readDeadLetters", () => readDeadLetters(state, sink, limit)),
    stats: () => statsOf(usable("stats")),
    oldestPendingTime: (sink) => oldestPendingTime(usable("oldestPendingTime"), sink),
    close(): void {
      if (closed) return;
      closed = true;
      closeSpool(state, ownership);
    },
  };
}
