/**
 * Delivers one spool batch to a historian sink. A rejected batch is split in halves until the
 * rejected samples are isolated; each rejected single sample goes to the spool's dead-letter
 * table with the sink's reason, and the good rows keep flowing. Batches are acknowledged in
 * spool order, so an outage in the middle leaves the cursor right after the last delivered row.
 * An unavailable sink (or any uncoded error) rejects: the caller retries from the cursor later.
 */
import type { HistorianSink, Spool, SpooledSample } from "../adapters/types.ts";
import { ErrorCode, errorMessage, isPlantbridgeError } from "../lib/errors.ts";

export interface Delivery {
  /** Samples written to the sink (and acknowledged). */
  delivered: number;
  /** Samples the sink rejected, now in the dead-letter table. */
  deadLettered: number;
  /** sink.write calls that succeeded. */
  writes: number;
  /** Dead-letter reasons, in order (one per rejected sample). */
  rejections: string[];
}

export function emptyDelivery(): Delivery {
  return { delivered: 0, deadLettered: 0, writes: 0, rejections: [] };
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

async function deliverPart(
  sink: Pick<HistorianSink, "name" | "write">,
  spool: Pick<Spool, "ack" | "deadLetter">,
  batch: readonly SpooledSample[],
  into: Delivery,
): Promise<void> {
  const last = batch.at(-1);
  if (last === undefined) return;
  try {
    await sink.write(batch);
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
  spool.ack(sink.name, last.seq);
  into.writes += 1;
  into.delivered += batch.length;
}
