/**
 * Dead letters: samples a sink refused (with the sink's reason) and conflicts — a sample whose tag
 * and time the spool already held with another value or quality (the wall clock stepped back and
 * a cycle time came round again). Neither is lost: both are kept in `dead_letters`, counted and
 * logged, until an operator replays or purges them (`plantbridge spool`), or the bound drops the
 * oldest. Writes run inside the caller's transaction.
 */
import type { SQLOutputValue } from "node:sqlite";
import type { Sample, SpooledSample } from "../types.ts";
import { boundDeadLetters } from "./spool-bound.ts";
import { decodeSample, describeHeld, describeValue, encodeValue, type HeldValue } from "./spool-rows.ts";
import { conflictSink } from "./spool-schema.ts";
import { bumpCounters, type SpoolState } from "./spool-state.ts";

/** A dead letter as kept in the table. */
export interface DeadLetter extends Sample {
  /** Its row id: dead letters are kept, listed and dropped in this order (oldest first). */
  id: number;
  /** The sequence number it had in the spool; null for a conflict (it never entered the spool). */
  seq: number | null;
  /** The sink that refused it, or `conflict`. */
  sink: string;
  /** The sink's reason for refusing it, or what the conflict was. */
  error: string;
  /** Epoch ms when it was kept. */
  at: number;
}

export function decodeDeadLetter(row: Record<string, SQLOutputValue>): DeadLetter {
  const { seq: _seq, ...sample } = decodeSample(row);
  return {
    id: Number(row.id),
    seq: row.seq === null || row.seq === undefined ? null : Number(row.seq),
    ...sample,
    sink: String(row.sink),
    error: String(row.error),
    at: Number(row.at),
  };
}

function insertDeadLetter(
  state: SpoolState,
  s: Sample,
  seq: number | null,
  sink: string,
  error: string,
  at: number,
): number {
  const v = encodeValue(s.value);
  const r = state.st.insertDeadLetter.run(
    seq,
    sink,
    s.tag,
    s.time,
    v.value,
    v.kind,
    s.quality,
    s.reason ?? null,
    error,
    at,
  );
  return Number(r.changes);
}

export interface Kept {
  /** Dead letters added. */
  kept: number;
  /** Oldest dead letters dropped to stay within maxDeadLetters. */
  bounded: number;
}

/** Keeps samples `sink` refused; the same sample refused twice (same seq) is kept once. */
export function keepRefused(
  state: SpoolState,
  sink: string,
  samples: readonly SpooledSample[],
  reason: string,
  at: number,
): Kept {
  let kept = 0;
  for (const s of samples) kept += insertDeadLetter(state, s, s.seq, sink, reason, at);
  bumpCounters(state.st, { deadLettered: kept });
  return { kept, bounded: boundDeadLetters(state, kept) };
}

/** A new sample and the one the spool held for its tag and time. */
export interface Conflict {
  sample: Sample;
  held: HeldValue;
}

export function conflictText(c: Conflict): string {
  const s = c.sample;
  return (
    `conflict: spool already holds ${s.tag} at ${new Date(s.time).toISOString()} with ${describeHeld(c.held)}` +
    ` (new ${describeValue(s.value, s.quality, s.reason)})`
  );
}

export interface ConflictsKept extends Kept {
  /** Conflicts kept before (the same value again): duplicates. */
  repeated: number;
  /** The first conflict's text, for the log. */
  first?: string;
}

/** Keeps conflicts under the `conflict` sink; one already kept with the same value is a duplicate. */
export function keepConflicts(state: SpoolState, conflicts: readonly Conflict[], at: number): ConflictsKept {
  let kept = 0;
  let repeated = 0;
  let first: string | undefined;
  for (const c of conflicts) {
    const s = c.sample;
    const v = encodeValue(s.value);
    const value = v.value !== null && Number.isNaN(v.value) ? null : v.value;
    if (state.st.sameDeadLetterKept.get(s.tag, s.time, conflictSink, value, v.kind, s.quality)) {
      repeated++;
      continue;
    }
    const text = conflictText(c);
    first ??= text;
    kept += insertDeadLetter(state, s, null, conflictSink, text, at);
  }
  bumpCounters(state.st, { conflicts: kept, duplicates: repeated });
  return { kept, repeated, bounded: boundDeadLetters(state, kept), ...(first ? { first } : {}) };
}

export function readDeadLetters(state: SpoolState, sink: string, limit: number): DeadLetter[] {
  return state.st.readDeadLetters.all(sink, limit).map(decodeDeadLetter);
}
