/**
 * The spool's operations on the owner's state: each checks its arguments, changes the file in one
 * transaction, then mirrors the change in memory (spool-state.ts). Any failure is a PB_ERR_SPOOL
 * naming the file, and a failed operation changes nothing.
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Sample, SpooledSample, SpoolStats } from "../types.ts";
import { keepRefused } from "./dead-letters.ts";
import { appendRows, mirrorAppend } from "./spool-append.ts";
import { mirrorDeadLettersBounded } from "./spool-bound.ts";
import { deliverUpTo, knownSink, mirrorDelivery } from "./spool-cursors.ts";
import { asSpoolError, transaction } from "./spool-errors.ts";
import type { SpoolOwnership } from "./spool-lock.ts";
import { wholeAtLeastOne } from "./spool-open.ts";
import { checkSample, decodeSample } from "./spool-rows.ts";
import type { SpoolState } from "./spool-state.ts";
import { tailAppended, tailForget, tailRead } from "./spool-tail.ts";

/** What `stats()` returns: the in-memory mirror, exact after every commit. */
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

export function attempt<T>(state: SpoolState, op: string, work: () => T): T {
  try {
    return work();
  } catch (e) {
    throw asSpoolError(state.path, op, e);
  }
}

export function appendSamples(state: SpoolState, samples: readonly Sample[]): number {
  for (const sample of samples) checkSample(sample);
  if (samples.length === 0) return state.lastSeq;
  const at = Date.now();
  return attempt(state, "append", () => {
    const before = state.lastSeq;
    const appended = transaction(state.db, () => appendRows(state, samples, at));
    mirrorAppend(state, appended);
    tailAppended(state.tail, samples, appended.inserted, before, appended.lastSeq);
    if (appended.dropped.gone > 0) tailForget(state.tail);
    return state.lastSeq;
  });
}

export function readBatch(state: SpoolState, sink: string, limit: number, after?: number): SpooledSample[] {
  const cursor = knownSink(state, sink, "readBatch");
  if (!wholeAtLeastOne(limit)) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${state.path}: batch limit must be a whole number >= 1`,
    );
  }
  const from = after ?? cursor;
  if (!Number.isSafeInteger(from) || from < cursor || from > state.lastSeq) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${state.path}: sink "${sink}" read after seq ${from}, outside its cursor ${cursor} .. the last seq ${state.lastSeq}`,
    );
  }
  return attempt(state, "readBatch", () => {
    const batch = tailRead(state.tail, from, limit) ?? state.st.readAfter.all(from, limit).map(decodeSample);
    // Reading ahead keeps what the sink already had in hand (still on its way); a read from the
    // cursor starts over.
    state.inFlight.handedOut(sink, batch.at(-1)?.seq ?? from, from > cursor);
    return batch;
  });
}

/** Time (epoch ms) of the oldest sample the sink has not acknowledged; null when it has them all. */
export function oldestPendingTime(state: SpoolState, sink: string): number | null {
  const cursor = knownSink(state, sink, "oldestPendingTime");
  return attempt(state, "oldestPendingTime", () => {
    const row = state.st.oldestAfter.get(cursor);
    return row === undefined ? null : Number(row.time);
  });
}

export function ack(state: SpoolState, sink: string, seq: number): void {
  knownSink(state, sink, "ack");
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > state.lastSeq) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${state.path}: sink "${sink}" acked seq ${seq}, the spool has handed out up to ${state.lastSeq}`,
    );
  }
  attempt(state, "ack", () =>
    mirrorDelivery(
      state,
      transaction(state.db, () => deliverUpTo(state, sink, seq)),
    ),
  );
}

/** Keeps the samples `sink` refused as dead letters and acks them. */
export function deadLetter(
  state: SpoolState,
  sink: string,
  samples: readonly SpooledSample[],
  reason: string,
): void {
  knownSink(state, sink, "deadLetter");
  if (samples.length === 0) return;
  let top = 0;
  for (const s of samples) top = Math.max(top, s.seq);
  if (!Number.isSafeInteger(top) || top > state.lastSeq) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${state.path}: dead letter seq ${top} beyond the spool's last seq ${state.lastSeq}`,
    );
  }
  const at = Date.now();
  attempt(state, "deadLetter", () => {
    const { kept, delivery } = transaction(state.db, () => ({
      kept: keepRefused(state, sink, samples, reason, at),
      // The refused samples are kept as dead letters: dropped in flight, they are not lost either.
      delivery: deliverUpTo(state, sink, top),
    }));
    mirrorDelivery(state, delivery);
    state.counters.deadLettered += kept.kept;
    mirrorDeadLettersBounded(state, kept.kept, kept.bounded);
    state.log.warn(
      { spool: state.path, sink, deadLettered: kept.kept, firstSeq: samples[0]?.seq, reason },
      `sink ${sink} refused ${samples.length} samples: kept as dead letters`,
    );
  });
}

export function statsOf(state: SpoolState): SqliteSpoolStats {
  return {
    pending: Object.fromEntries(state.pending),
    held: state.held,
    ...state.counters,
    deadLetters: state.deadLetters,
  };
}

/** Checkpoints and truncates the WAL, closes the file, gives the spool up. */
export function closeSpool(state: SpoolState, ownership: SpoolOwnership): void {
  const { path, log } = state;
  try {
    state.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (e) {
    log.warn(
      { spool: path, err: asSpoolError(path, "checkpoint", e).message },
      "spool checkpoint at close failed",
    );
  }
  try {
    state.db.close();
  } finally {
    ownership.release();
  }
  log.info({ spool: path, held: state.held }, "spool closed");
}
