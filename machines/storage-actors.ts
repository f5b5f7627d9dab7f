/**
 * The storage machine's actors: one cycle's reads (each unit's stored tags, units in parallel,
 * each unit reported as it answers) and one append of the waiting samples to the spool.
 */
import { fromCallback, fromPromise } from "xstate";
import type { Sample, Spool } from "../adapters/types.ts";
import type { StorageEvent, StorageIO } from "./storage-context.ts";
import type { StoragePlan } from "./storage-samples.ts";

/** Reads each unit's stored tags in parallel and reports each unit as it answers. */
export const readCycle = fromCallback<StorageEvent, { io: StorageIO; byUnit: StoragePlan["byUnit"] }>(
  ({ input, sendBack }) => {
    let stopped = false;
    for (const [unit, tags] of input.byUnit) {
      input.io.readUnit(unit, tags).then(
        (readings) => {
          if (!stopped) sendBack({ type: "UNIT_READ", unit, readings });
        },
        () => {
          // readUnit never rejects by contract; a unit without an answer is stored bad at the deadline.
        },
      );
    }
    return () => {
      stopped = true;
    };
  },
);

/** Appends the waiting samples to the spool; resolves with what the spool reports. */
export const appendSamples = fromPromise<
  number,
  { spool: Pick<Spool, "append">; samples: readonly Sample[] }
>(async ({ input }) => input.spool.append(input.samples));
