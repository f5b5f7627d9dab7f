/**
 * The forwarder's actors: open the sink (registering the stored tags), read a batch from the
 * spool at the sink's cursor, and deliver from the spool into the sink (deliver-spool.ts).
 */
import { fromPromise } from "xstate";
import type { HistorianSink, Spool, SpooledSample, TagInfo } from "../adapters/types.ts";
import type { DeliveryOutcome } from "./deliver-batch.ts";
import { deliverFromSpool } from "./deliver-spool.ts";

/**
 * Most batches one delivery takes before the machine counts them and reads again: while the spool
 * keeps filling, the figures (health, status) move on at least this often.
 */
const batchesPerDelivery = 16;

export const openSink = fromPromise<void, { sink: HistorianSink; tags: readonly TagInfo[] }>(({ input }) =>
  input.sink.open(input.tags),
);

export const readSpoolBatch = fromPromise<SpooledSample[], { spool: Spool; sink: string; limit: number }>(
  async ({ input }) => input.spool.readBatch(input.sink, input.limit),
);

export const deliverSamples = fromPromise<
  DeliveryOutcome,
  { sink: HistorianSink; spool: Spool; batch: readonly SpooledSample[]; batchSize: number }
>(({ input, signal }) =>
  deliverFromSpool({
    sink: input.sink,
    spool: input.spool,
    first: input.batch,
    batchSize: input.batchSize,
    maxBatches: batchesPerDelivery,
    signal,
  }),
);
