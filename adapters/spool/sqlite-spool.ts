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
import type { Sample, Spool, SpooledSample, SpoolStats } from "../types.ts";
import { type DeadLetter, keepRefused, readDeadLetters } from "./dead-letters.ts";
import { appendRows, mirrorAppend } from "./spool-append.ts";
import { mirrorDeadLettersBounded } from "./spool-bound.ts";
import { deliverUpTo, knownSink, mirrorDelivery } from "./spool-cursors.ts";
import { asSpoolError, transaction } from "./spool-errors.ts";
import { claimSpool, type SpoolOwnership } from "./spool-lock.ts";
import {
  checkOptions,
  loadState,
  openSpoolDatabase,
  type SpoolOptions,
  wholeAtLeastOne,
} from "./spool-open.ts";
import { checkSample, decodeSample } from "./spool-rows.ts";
import type { SpoolState } from "./spool-state.ts";

export type { DeadLetter } from "./dead-letters.ts";
export { defaultMaxDeadLetters, type SpoolOptions } from "./spool-open.ts";

export interface SqliteSpoolStats extends SpoolStats {
  /** Appended samples ignored because the spool already held the same sample (tag, time, value, quality). */
  duplicates: number;
  /** Appended samples whose tag and time the spool held with another value: kept as dead letters. */
  conflicts: number;
  /** Dead letters in the file now (every sink and conflicts). */
  deadLetters: number;
  /** Oldest dead letters dropped because more than maxDeadLetters were held. */
  deadLettersDropped: number;
}

export interface SqliteSpool extends Spool {
  readonly path: string;
  stats(): SqliteSpoolStats;
  /** Dead letters of one sink (or `conflict`), oldest first. */
  readDeadLetters(sink: string, limit: number): DeadLetter[];
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
  const { path, db, st, log } = state;
  let closed = false;
  const usable = (op: string): void => {
    if (closed) throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: ${op} after close`);
  };
  const attempt = <T>(op: string, work: () => T): T => {
    try {
      return work();
    } catch (e) {
      throw asSpoolError(path, op, e);
    }
  };

  return {
    path,

    append(samples: readonly Sample[]): number {
      usable("append");
      for (const sample of samples) checkSample(sample);
      if (samples.length === 0) return state.lastSeq;
      const at = Date.now();
      return attempt("append", () => {
        mirrorAppend(
          state,
          transaction(db, () => appendRows(state, samples, at)),
        );
        return state.lastSeq;
      });
    },

    readBatch(sink: string, limit: number): SpooledSample[] {
      usable("readBatch");
      const cursor = knownSink(state, sink, "readBatch");
      if (!wholeAtLeastOne(limit)) {
        throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: batch limit must be a whole number >= 1`);
      }
      return attempt("readBatch", () => {
        const batch = st.readAfter.all(cursor, limit).map(decodeSample);
        state.inFlight.handedOut(sink, batch.at(-1)?.seq ?? cursor);
        return batch;
      });
    },

    ack(sink: string, seq: number): void {
      usable("ack");
      knownSink(state, sink, "ack");
      if (!Number.isSafeInteger(seq) || seq < 0 || seq > state.lastSeq) {
        throw new PlantbridgeError(
          ErrorCode.SPOOL,
          `spool ${path}: sink "${sink}" acked seq ${seq}, the spool has handed out up to ${state.lastSeq}`,
        );
      }
      attempt("ack", () =>
        mirrorDelivery(
          state,
          transaction(db, () => deliverUpTo(state, sink, seq)),
        ),
      );
    },

    deadLetter(sink: string, samples: readonly SpooledSample[], reason: string): void {
      usable("deadLetter");
      knownSink(state, sink, "deadLetter");
      if (samples.length === 0) return;
      let top = 0;
      for (const s of samples) top = Math.max(top, s.seq);
      if (!Number.isSafeInteger(top) || top > state.lastSeq) {
        throw new PlantbridgeError(
          ErrorCode.SPOOL,
          `spool ${path}: dead letter seq ${top} beyond the spool's last seq ${state.lastSeq}`,
        );
      }
      const at = Date.now();
      attempt("deadLetter", () => {
        const { kept, delivery } = transaction(db, () => ({
          kept: keepRefused(state, sink, samples, reason, at),
          // The refused samples are kept as dead letters: dropped in flight, they are not lost either.
          delivery: deliverUpTo(state, sink, top),
        }));
        mirrorDelivery(state, delivery);
        state.counters.deadLettered += kept.kept;
        mirrorDeadLettersBounded(state, kept.kept, kept.bounded);
        log.warn(
          { spool: path, sink, deadLettered: kept.kept, firstSeq: samples[0]?.seq, reason },
          `sink ${sink} refused ${samples.length} samples: kept as dead letters`,
        );
      });
    },

    readDeadLetters(sink: string, limit: number): DeadLetter[] {
      usable("readDeadLetters");
      return attempt("readDeadLetters", () => readDeadLetters(state, sink, limit));
    },

    stats(): SqliteSpoolStats {
      usable("stats");
      return {
        pending: Object.fromEntries(state.pending),
        held: state.held,
        ...state.counters,
        deadLetters: state.deadLetters,
      };
    },

    close(): void {
      if (closed) return;
      closed = true;
      try {
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } catch (e) {
        log.warn(
          { spool: path, err: asSpoolError(path, "checkpoint", e).message },
          "spool checkpoint at close failed",
        );
      }
      try {
        db.close();
      } finally {
        ownership.release();
      }
      log.info({ spool: path, held: state.held }, "spool closed");
    },
  };
}
