/**
 * What the owner keeps in memory beside the file: the cursors, the figures of `stats()` and the
 * counters of `meta`, each changed only after the commit that changed the file. Only the owner
 * writes the file (spool-lock.ts), so the mirror stays exact and `stats()` costs nothing.
 */
import type { DatabaseSync } from "node:sqlite";
import type { Log } from "../../lib/log.ts";
import type { InFlightLedger } from "./in-flight.ts";
import { MetaKey } from "./spool-schema.ts";
import { numberOf, type SpoolStatements } from "./spool-statements.ts";
import type { SpoolTail } from "./spool-tail.ts";

/** The counters of `meta` that `stats()` shows. */
export interface SpoolCounters {
  dropped: number;
  deadLettered: number;
  duplicates: number;
  conflicts: number;
  deadLettersDropped: number;
}

export interface SpoolState {
  readonly path: string;
  readonly db: DatabaseSync;
  readonly st: SpoolStatements;
  readonly log: Log;
  readonly maxSamples: number;
  readonly maxDeadLetters: number;
  /** Per configured sink: everything up to this seq is delivered. */
  readonly cursors: Map<string, number>;
  /** Per configured sink: held samples after its cursor. */
  readonly pending: Map<string, number>;
  readonly inFlight: InFlightLedger;
  /** The samples appended last, as a read gives them (spool-tail.ts). */
  readonly tail: SpoolTail;
  readonly counters: SpoolCounters;
  /** Samples in the file. */
  held: number;
  /** Highest seq ever given (AUTOINCREMENT: never reused). */
  lastSeq: number;
  /** Dead letters in the file now (every sink, conflicts included). */
  deadLetters: number;
}

const counterKeys = {
  dropped: MetaKey.dropped,
  deadLettered: MetaKey.deadLettered,
  duplicates: MetaKey.duplicates,
  conflicts: MetaKey.conflicts,
  deadLettersDropped: MetaKey.deadLettersDropped,
} as const satisfies Record<keyof SpoolCounters, MetaKey>;

export function readCounters(st: SpoolStatements): SpoolCounters {
  const read = (key: MetaKey) => numberOf(st.getMeta.get(key), "value");
  return {
    dropped: read(counterKeys.dropped),
    deadLettered: read(counterKeys.deadLettered),
    duplicates: read(counterKeys.duplicates),
    conflicts: read(counterKeys.conflicts),
    deadLettersDropped: read(counterKeys.deadLettersDropped),
  };
}

/** Adds to counters in the file; runs inside the caller's transaction. */
export function bumpCounters(st: SpoolStatements, change: Partial<SpoolCounters>): void {
  for (const [name, by] of Object.entries(change) as [keyof SpoolCounters, number][]) {
    if (by !== 0) st.bumpMeta.run(by, counterKeys[name]);
  }
}

/** The same change in memory, after the commit. */
export function mirrorCounters(counters: SpoolCounters, change: Partial<SpoolCounters>): void {
  for (const [name, by] of Object.entries(change) as [keyof SpoolCounters, number][]) counters[name] += by;
}

export function minCursor(cursors: ReadonlyMap<string, number>): number {
  let min = Number.POSITIVE_INFINITY;
  for (const seq of cursors.values()) min = Math.min(min, seq);
  return min;
}
