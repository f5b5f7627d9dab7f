/**
 * Delivers one spool batch to a historian sink. A rejected batch is split in halves until the
 * rejected samples are isolated; each rejected single sample goes to the spool's dead-letter
 * table with the sink's reason, and the good rows keep flowing. A sample the sink reports as a
 * conflict (its (tag, time) already holds a different value) is kept as a dead letter with the
 * sink's reason too, counted apart. Batches are acknowledged in spool order, so an outage in the
 * middle leaves the cursor right after the last delivered row.
 * An unavailable sink (or any uncoded error) rejects: the caller retries from the cursor later.
 */
import type { HistorianSink, Spool, SpooledSample } from "../adapters/types.ts";
import { ErrorCode, errorMessage, isPlantbridgeError } from "../lib/errors.ts";

export interface Delivery {
  /** Samples written to the sink (or found there already, identical) and acknowledged. */
  delivered: number;
  /** Samples the sink rejected, now in the dead-letter table. */
  deadLettered: number;
  /** Samples whose (tag, time) the historian already held with another value, now in the dead-letter table. */
  conflicts: number;
  /** sink.write calls that succeeded. */
  writes: number;
  /** Dead-letter reasons, in order (one per rejected sample). */
  rejections: string[];
  /** Conflict reasons, in order (one per conflicting sample). */
  conflictReasons: string[];
}

export function emptyDelivery(): Delivery {
  return { delivered: 0, deadLettered: 0, conflicts: 0, writes: 0, rejections: [], conflictReasons: [] };
}

export interface DeliveryOutcome {
  delivery: Delivery;
  /** Why delivery stopped early (sink unavailable, uncoded error); absent when the whole batch is done. */
  failure?: unknown;
}

/** Delivers what it can; never rejects: a failure is returned with the counts of what got through. */
export async function deliverBatch(
  sink: Pick<HistorianSink, "name" | "write">,
  spool: Pick<Spool, "ack" | "deadLetter">,
  batch: readonly SpooledSample[],
): Promise<DeliveryOutcome> {
  const delivery = emptyDelivery();
  try {
    await deliverPart(sink, spool, batch, delivery);
    return { delivery };
  } catch (failure) {
    return { delivery, failure };
  }
}

/**
 * Delivers `batch` (split while the sink rejects it) and acks it; a sink that becomes unavailable
 * rejects. Exported for the pipelined delivery (deliver-spool.ts), which calls it in spool order.
 */
export async function deliverPart(
  sink: Pick<HistorianSink, "name" | "write">,
  spool: Pick<Spool, "ack" | "deadLetter">,
  batch: readonly SpooledSample[],
  into: Delivery,
): Promise<void> {
  const last = batch.at(-1);
  if (last === undefined) return;
  let conflicts: Awaited<ReturnType<HistorianSink["write"]>>["conflicts"];
  try {
    ({ conflicts } = await sink.write(batch));
  } catch (e) {
    if (!isPlantbridgeError(e, ErrorCode.HISTORIAN_REJECTED)) throw e;
    if (batch.length === 1) {
      const reason = errorMessage(e);
      spool.deadLetter(sink.name, batch, reason);
      into.deadLettered += 1;
      into.rejections.push(reason);
      return;
    }
    const half = Math.ceil(batch.length / 2);
    await deliverPart(sink, spool, batch.slice(0, half), into);
    await deliverPart(sink, spool, batch.slice(half), into);
    return;
  }
  settleWritten(sink.name, spool, batch, conflicts, into);
}

/** The batch is committed: keep each conflicting sample with its own reason, then move the cursor. */
export function settleWritten(
  sinkName: string,
  spool: Pick<Spool, "ack" | "deadLetter">,
  batch: readonly SpooledSample[],
  conflicts: Awaited<ReturnType<HistorianSink["write"]>>["conflicts"],
  into: Delivery,
): void {
  const last = batch.at(-1);
  if (last === undefined) return;
  for (const conflict of conflicts) {
    spool.deadLetter(sinkName, [conflict.sample], conflict.reason);
    into.conflictReasons.push(conflict.reason);
  }
  spool.ack(sinkName, last.seq);
  into.writes += 1;
  into.conflicts += conflicts.length;
  into.delivered += batch.length - conflicts.length;
}
