/**
 * Delivers the spool to a sink with batches overlapping: while up to `sink.pipelineDepth` batches
 * are on their way (each its own transaction), the next one is read from the spool (reading ahead
 * of the cursor), so reading, encoding and committing overlap. Each batch is acked only after its
 * own commit and after every earlier batch was acked (pipeline.ts): a batch that committed after
 * an earlier one failed is not acked, and is delivered again — idempotently — from the cursor.
 * A batch the sink rejects is isolated by halving in its turn (deliver-batch.ts).
 */
import type { HistorianSink, SampleConflict, Spool, SpooledSample } from "../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../lib/errors.ts";
import { type DeliveryOutcome, deliverPart, emptyDelivery, settleWritten } from "./deliver-batch.ts";
import { runPipeline } from "./pipeline.ts";

export interface SpoolDelivery {
  sink: Pick<HistorianSink, "name" | "write" | "pipelineDepth">;
  spool: Pick<Spool, "readBatch" | "ack" | "deadLetter">;
  /** The batch read from the cursor that starts this delivery. */
  first: readonly SpooledSample[];
  batchSize: number;
  /** Most batches this call takes (the first one included) before it returns. */
  maxBatches: number;
  /** When aborted, no further batch is read; those on their way are still acked in order. */
  signal?: AbortSignal;
}

type Attempt = { kind: "written"; conflicts: readonly SampleConflict[] } | { kind: "rejected" };

/** Never rejects: a failure comes back with the counts of what was acked before it. */
export async function deliverFromSpool(input: SpoolDelivery): Promise<DeliveryOutcome> {
  const { sink, spool, first, batchSize, maxBatches, signal } = input;
  const delivery = emptyDelivery();
  let taken = 0;
  let top = 0;
  const take = (): readonly SpooledSample[] | undefined => {
    const batch =
      taken === 0
        ? first
        : taken >= maxBatches || signal?.aborted
          ? []
          : spool.readBatch(sink.name, batchSize, top);
    const last = batch.at(-1);
    if (last === undefined) return undefined;
    taken++;
    top = last.seq;
    return batch;
  };
  const outcome = await runPipeline<readonly SpooledSample[], Attempt>({
    depth: sink.pipelineDepth ?? 1,
    take,
    write: (batch) =>
      sink.write(batch).then(
        (written): Attempt => ({ kind: "written", conflicts: written.conflicts }),
        (e: unknown): Attempt => {
          if (isPlantbridgeError(e, ErrorCode.HISTORIAN_REJECTED)) return { kind: "rejected" };
          throw e;
        },
      ),
    settle: async (batch, attempt) => {
      if (attempt.kind === "written") settleWritten(sink.name, spool, batch, attempt.conflicts, delivery);
      // Rejected: isolate the rows the sink refuses (writing the halves one after another).
      else await deliverPart(sink, spool, batch, delivery);
    },
  });
  return outcome.failure === undefined ? { delivery } : { delivery, failure: outcome.failure };
}
