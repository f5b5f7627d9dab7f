/**
 * Appending a storage cycle: one transaction that inserts the samples, sorts out the ones whose
 * tag and time the spool already holds, and keeps the file within its bound.
 *
 * `(tag, time)` is a sample's identity. A second sample with a held identity is
 * - a **duplicate** when its value and quality are those held (a re-run cycle): counted, a no-op;
 * - a **conflict** otherwise (the wall clock stepped back and a cycle time came round again): the
 *   held sample stays as it is (a sink may have it already), the new one is kept as a dead letter
 *   under the `conflict` sink with both values in its reason, counted, and logged at warn.
 * Nothing is dropped here except by the bound, which is counted and logged too.
 */
import type { SQLInputValue } from "node:sqlite";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Sample } from "../types.ts";
import { type Conflict, type ConflictsKept, keepConflicts } from "./dead-letters.ts";
import {
  dropOldestSamples,
  mirrorDeadLettersBounded,
  mirrorSamplesDropped,
  noneDropped,
  type SamplesDropped,
} from "./spool-bound.ts";
import { encodeValue, kindOf, originOf, sameAsHeld, storedNumber } from "./spool-rows.ts";
import { bumpCounters, type SpoolState } from "./spool-state.ts";
import { samplesPerInsert } from "./spool-statements.ts";

const noConflicts: ConflictsKept = Object.freeze({ kept: 0, repeated: 0, bounded: 0 });

export interface Appended {
  inserted: number;
  lastSeq: number;
  duplicates: number;
  conflicts: ConflictsKept;
  dropped: SamplesDropped;
}

/**
 * The common case: every sample is new. Inserts them with multi-row statements inside a savepoint
 * and returns the last seq; when one of them was held already, rolls the savepoint back (nothing
 * inserted, no seq used) and returns undefined: the caller sorts them out one by one.
 */
function insertAllNew(state: SpoolState, samples: readonly Sample[]): number | undefined {
  const { db, st } = state;
  db.exec("SAVEPOINT append_new");
  let inserted = 0;
  let lastSeq = state.lastSeq;
  const args: SQLInputValue[] = new Array(6 * samplesPerInsert);
  let i = 0;
  for (; i + samplesPerInsert <= samples.length; i += samplesPerInsert) {
    for (let j = 0; j < samplesPerInsert; j++) {
      const s = samples[i + j] as Sample;
      const at = 6 * j;
      args[at] = s.tag;
      args[at + 1] = s.time;
      args[at + 2] = storedNumber(s.value);
      args[at + 3] = kindOf(s.value);
      args[at + 4] = s.quality;
      args[at + 5] = s.reason ?? null;
    }
    const r = st.insertSamples.run(...args);
    inserted += Number(r.changes);
    lastSeq = Number(r.lastInsertRowid);
  }
  for (; i < samples.length; i++) {
    const s = samples[i] as Sample;
    const r = st.insertSample.run(
      s.tag,
      s.time,
      storedNumber(s.value),
      kindOf(s.value),
      s.quality,
      s.reason ?? null,
    );
    inserted += Number(r.changes);
    lastSeq = Number(r.lastInsertRowid);
  }
  if (inserted === samples.length) {
    db.exec("RELEASE append_new");
    return lastSeq;
  }
  db.exec("ROLLBACK TO append_new");
  db.exec("RELEASE append_new");
  return undefined;
}

/** Inserts `samples` (checked beforehand); runs inside the caller's transaction. */
export function appendRows(state: SpoolState, samples: readonly Sample[], at: number): Appended {
  const { st } = state;
  const allNew = insertAllNew(state, samples);
  if (allNew !== undefined) {
    const over = state.held + samples.length - state.maxSamples;
    const dropped = over > 0 ? dropOldestSamples(state, over) : noneDropped;
    return { inserted: samples.length, lastSeq: allNew, duplicates: 0, conflicts: noConflicts, dropped };
  }
  let inserted = 0;
  let lastSeq = state.lastSeq;
  let duplicates = 0;
  const conflicts: Conflict[] = [];
  for (const s of samples) {
    const v = encodeValue(s.value);
    const r = st.insertSample.run(s.tag, s.time, v.value, v.kind, s.quality, s.reason ?? null);
    if (r.changes > 0) {
      inserted++;
      lastSeq = Number(r.lastInsertRowid);
      continue;
    }
    const held = st.heldByKey.get(s.tag, s.time);
    if (held === undefined) {
      // OR IGNORE skips only the UNIQUE (tag, time) clash here (the sample was checked): never silently.
      throw new PlantbridgeError(
        ErrorCode.SPOOL,
        `spool ${state.path}: the sample at ${s.time} was refused without a held sample of that tag and time`,
        originOf(s.tag),
      );
    }
    if (sameAsHeld(held, s)) duplicates++;
    else conflicts.push({ sample: s, held });
  }
  if (duplicates > 0) bumpCounters(st, { duplicates });
  const kept = conflicts.length > 0 ? keepConflicts(state, conflicts, at) : noConflicts;
  const over = state.held + inserted - state.maxSamples;
  const dropped = over > 0 ? dropOldestSamples(state, over) : noneDropped;
  return { inserted, lastSeq, duplicates, conflicts: kept, dropped };
}

/** After the commit: the mirror, and the log lines. */
export function mirrorAppend(state: SpoolState, a: Appended): void {
  state.held += a.inserted;
  for (const [sink, count] of state.pending) state.pending.set(sink, count + a.inserted);
  state.lastSeq = a.lastSeq;
  const duplicates = a.duplicates + a.conflicts.repeated;
  state.counters.duplicates += duplicates;
  state.counters.conflicts += a.conflicts.kept;
  mirrorSamplesDropped(state, a.dropped);
  mirrorDeadLettersBounded(state, a.conflicts.kept, a.conflicts.bounded);
  if (duplicates > 0) {
    state.log.debug({ spool: state.path, duplicates }, "spool ignored samples it already held");
  }
  if (a.conflicts.kept > 0) {
    state.log.warn(
      {
        spool: state.path,
        conflicts: a.conflicts.kept,
        conflictsTotal: state.counters.conflicts,
        first: a.conflicts.first,
      },
      `spool kept ${a.conflicts.kept} samples whose tag and time it already held with another value as dead letters (sink "conflict"; did the clock step back?)`,
    );
  }
}
