/**
 * The bounds of the file: at most `maxSamples` samples and `maxDeadLetters` dead letters. Past
 * either, the oldest go — counted in `meta`, logged at warn, never silently. Each runs inside the
 * caller's transaction and returns what to mirror after the commit.
 */
import type { DatabaseSync } from "node:sqlite";
import { bumpCounters, minCursor, type SpoolState } from "./spool-state.ts";
import { numberOf } from "./spool-statements.ts";

/** Free pages above which a delete gives disk space back (4 KiB pages: 4 MiB). */
const vacuumAbovePages = 1024;

/** Gives free pages back to the file system once there are many (incremental vacuum). */
export function giveBackSpace(db: DatabaseSync, freePages = db.prepare("PRAGMA freelist_count")): void {
  if (numberOf(freePages.get(), "freelist_count") > vacuumAbovePages) db.exec("PRAGMA incremental_vacuum");
}

export interface SamplesDropped {
  /** Samples deleted. */
  gone: number;
  /** Per sink: how many of them it had not received. */
  undelivered: ReadonlyMap<string, number>;
  /** Of them, those every sink lacking them has in hand (they may still arrive). */
  inFlight: readonly number[];
}

/** What an append that stayed within the bound dropped (shared: nothing to change in it). */
export const noneDropped: SamplesDropped = Object.freeze({ gone: 0, undelivered: new Map(), inFlight: [] });

/** Deletes the `count` oldest samples, delivered or not, and counts them in `meta`. */
export function dropOldestSamples(state: SpoolState, count: number): SamplesDropped {
  const { st, cursors } = state;
  const lastRow = count > 0 ? st.nthOldest.get(count - 1) : undefined;
  if (lastRow === undefined) return noneDropped;
  const last = Number(lastRow.seq);
  const undelivered = new Map<string, number>();
  for (const [sink, cursor] of cursors) {
    undelivered.set(sink, numberOf(st.countBetween.get(cursor, last), "n"));
  }
  const reach = Math.min(last, state.inFlight.reachableTop(cursors));
  const floor = minCursor(cursors);
  const inFlight = reach > floor ? st.seqsBetween.all(floor, reach).map((r) => Number(r.seq)) : [];
  const gone = Number(st.deleteUpTo.run(last).changes);
  bumpCounters(st, { dropped: gone });
  return { gone, undelivered, inFlight };
}

/** After the commit: the mirror and one warning for the append that dropped. */
export function mirrorSamplesDropped(state: SpoolState, dropped: SamplesDropped): void {
  if (dropped.gone === 0) return;
  state.inFlight.remember(dropped.inFlight, state.cursors);
  state.held -= dropped.gone;
  for (const [sink, count] of dropped.undelivered) {
    state.pending.set(sink, (state.pending.get(sink) ?? 0) - count);
  }
  state.counters.dropped += dropped.gone;
  state.log.warn(
    {
      spool: state.path,
      dropped: dropped.gone,
      droppedTotal: state.counters.dropped,
      held: state.held,
      maxSamples: state.maxSamples,
    },
    `spool full: dropped the ${dropped.gone} oldest samples`,
  );
}

/**
 * Deletes the oldest dead letters beyond `maxDeadLetters`, given that `added` were just kept, and
 * counts them in `meta`. Returns how many went.
 */
export function boundDeadLetters(state: SpoolState, added: number): number {
  const over = state.deadLetters + added - state.maxDeadLetters;
  if (over <= 0) return 0;
  const gone = Number(state.st.deleteOldestDeadLetters.run(over).changes);
  bumpCounters(state.st, { deadLettersDropped: gone });
  return gone;
}

/** After the commit: the mirror and one warning when dead letters went. */
export function mirrorDeadLettersBounded(state: SpoolState, added: number, gone: number): void {
  state.deadLetters += added - gone;
  if (gone === 0) return;
  state.counters.deadLettersDropped += gone;
  giveBackSpace(state.db, state.st.freePages);
  state.log.warn(
    {
      spool: state.path,
      deadLettersDropped: gone,
      deadLettersDroppedTotal: state.counters.deadLettersDropped,
      deadLetters: state.deadLetters,
      maxDeadLetters: state.maxDeadLetters,
    },
    `dead letters full: dropped the ${gone} oldest (maxDeadLetters ${state.maxDeadLetters})`,
  );
}
