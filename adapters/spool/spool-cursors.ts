/**
 * Delivery cursors: a sink's cursor only moves forward; what every configured sink has passed
 * leaves the file. Each change is made inside the caller's transaction and mirrored in memory
 * after its commit.
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import { giveBackSpace } from "./spool-bound.ts";
import { bumpCounters, minCursor, type SpoolState } from "./spool-state.ts";
import { numberOf } from "./spool-statements.ts";
import { tailDelivered } from "./spool-tail.ts";

export interface Delivery {
  sink: string;
  cursor: number;
  /** Held samples the cursor passed. */
  delivered: number;
  /** Samples that left the file (every sink has them now). */
  deleted: number;
  /** Samples counted as dropped while on their way that this delivery shows arrived. */
  rescued: number;
}

export function knownSink(state: SpoolState, sink: string, op: string): number {
  const cursor = state.cursors.get(sink);
  if (cursor === undefined) {
    throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${state.path}: ${op} for unknown sink "${sink}"`);
  }
  return cursor;
}

/**
 * Moves `sink`'s cursor to `seq` (never back), deletes what every sink has passed and takes back
 * the drops this delivery shows arrived. Runs inside the caller's transaction.
 */
export function deliverUpTo(state: SpoolState, sink: string, seq: number): Delivery {
  const { st } = state;
  const from = knownSink(state, sink, "ack");
  const cursor = Math.max(from, seq);
  if (cursor === from) return { sink, cursor, delivered: 0, deleted: 0, rescued: 0 };
  st.setCursor.run(cursor, sink);
  const others = new Map(state.cursors);
  others.set(sink, cursor);
  // With one sink, every row after its old cursor up to the new one leaves the file now (rows at
  // or below its cursor already left): what the delete removes is what the cursor passed.
  const delivered = others.size === 1 ? undefined : numberOf(st.countBetween.get(from, cursor), "n");
  // Rows at or below every cursor are no one's pending: deleting them changes only `held`.
  const deleted = Number(st.deleteUpTo.run(minCursor(others)).changes);
  const rescued = state.inFlight.completedBy(sink, cursor);
  bumpCounters(st, { dropped: -rescued });
  return { sink, cursor, delivered: delivered ?? deleted, deleted, rescued };
}

/** After the commit of `deliverUpTo`. */
export function mirrorDelivery(state: SpoolState, d: Delivery): void {
  state.cursors.set(d.sink, d.cursor);
  state.pending.set(d.sink, (state.pending.get(d.sink) ?? 0) - d.delivered);
  state.held -= d.deleted;
  state.inFlight.settle(d.sink, d.cursor);
  state.counters.dropped -= d.rescued;
  if (d.rescued > 0) {
    state.log.info(
      { spool: state.path, sink: d.sink, rescued: d.rescued, droppedTotal: state.counters.dropped },
      `${d.rescued} samples counted as dropped reached sink ${d.sink} after all (they were on their way when the spool was full)`,
    );
  }
  if (d.deleted > 0) {
    tailDelivered(state.tail, minCursor(state.cursors));
    giveBackSpace(state.db, state.st.freePages);
  }
}
