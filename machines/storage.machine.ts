/**
 * Storage: every `periodMs` (a drift-free grid aligned to whole multiples of the period), read
 * all configured tags, turn each reading into a sample stamped with the cycle's scheduled
 * time, and append the whole cycle to the spool in one call. A failed read is a bad-quality
 * sample; a failed append keeps the samples and retries them with the next cycle.
 * Tells the parent (if any) `SAMPLES_STORED` after each append, so forwarders need not wait.
 */
import { assign, enqueueActions, fromPromise, setup } from "xstate";
import type { Reading, Sample, Spool } from "../adapters/types.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { StorageConfig, TagId, TagRef } from "../schemas/plant-types.ts";
import { delayUntil, firstAlignedSlot, planNextSlot } from "./schedule.ts";
import { countBad, cycleSamples, failedCycleSamples, keepNewest } from "./storage-samples.ts";

/** What storage needs of the tag I/O: a `TagIO` fits. */
export interface StorageIO {
  read(refs: readonly TagRef[]): Promise<Map<TagId, Reading>>;
}

export interface StorageInput {
  storage: StorageConfig;
  io: StorageIO;
  spool: Pick<Spool, "append">;
  now: () => number;
  log: Log;
}

export interface StorageContext extends StorageInput {
  nextDueAt: number;
  /** Scheduled time of the cycle being sampled. */
  cycleTime: number;
  cycles: number;
  samples: number;
  badSamples: number;
  overruns: number;
  appendFailures: number;
  /** Samples taken but not yet in the spool (a failed append keeps them here). */
  pending: Sample[];
  /** Samples dropped because `pending` exceeded the spool's maxSamples (logged). */
  dropped: number;
  droppedNow: number;
  skippedNow: number;
  lastAppended: number;
  stopRequested: boolean;
}

export type StorageEvent = { type: "SHUTDOWN" };

export type StorageNotice = { type: "SAMPLES_STORED"; count: number };

export const storageMachine = setup({
  types: {
    input: {} as StorageInput,
    context: {} as StorageContext,
    events: {} as StorageEvent,
  },
  actors: {
    readStorageTags: fromPromise<Map<TagId, Reading>, { io: StorageIO; refs: readonly TagRef[] }>(
      ({ input }) => input.io.read(input.refs),
    ),
    appendSamples: fromPromise<number, { spool: Pick<Spool, "append">; samples: readonly Sample[] }>(
      async ({ input }) => input.spool.append(input.samples),
    ),
  },
  actions: {
    planNextCycle: assign(({ context }) => {
      const plan = planNextSlot(context.nextDueAt, context.storage.periodMs, context.now());
      return {
        nextDueAt: plan.nextDueAt,
        overruns: context.overruns + plan.overruns,
        skippedNow: plan.overruns,
      };
    }),
    logOverruns: ({ context }) => {
      if (context.skippedNow > 0)
        context.log.warn(
          { skipped: context.skippedNow, overruns: context.overruns },
          `storage cycle overran its period: ${context.skippedNow} cycle(s) skipped`,
        );
    },
    takeCycleSlot: assign(({ context }) => ({
      cycleTime: context.nextDueAt,
      nextDueAt: context.nextDueAt + context.storage.periodMs,
    })),
    collectSamples: assign(({ context }, params: { samples: Sample[] }) => {
      const { kept, dropped } = keepNewest(
        [...context.pending, ...params.samples],
        context.storage.spool.maxSamples,
      );
      return {
        cycles: context.cycles + 1,
        samples: context.samples + params.samples.length,
        badSamples: context.badSamples + countBad(params.samples),
        pending: kept,
        dropped: context.dropped + dropped,
        droppedNow: dropped,
      };
    }),
    logDropped: ({ context }) => {
      if (context.droppedNow > 0)
        context.log.error(
          { dropped: context.droppedNow, total: context.dropped },
          "samples waiting for the spool exceeded its size: oldest dropped",
        );
    },
    recordAppend: assign(({ context }) => ({ lastAppended: context.pending.length, pending: [] })),
    announceStored: enqueueActions(({ context, enqueue, self }) => {
      if (self._parent !== undefined)
        enqueue.sendParent({ type: "SAMPLES_STORED", count: context.lastAppended });
    }),
    logAppendFailure: ({ context }, params: { error: unknown }) => {
      context.log.error(
        { reason: errorMessage(params.error), waiting: context.pending.length },
        `spool append failed, ${context.pending.length} samples kept for the next cycle: ${errorMessage(params.error)}`,
      );
    },
    recordAppendFailure: assign({ appendFailures: ({ context }) => context.appendFailures + 1 }),
    requestStop: assign({ stopRequested: true }),
    logStopped: ({ context }) => {
      const fields = { cycles: context.cycles, samples: context.samples, unstored: context.pending.length };
      if (context.pending.length > 0)
        context.log.error(fields, `storage stopped with ${context.pending.length} samples the spool refused`);
      else context.log.info(fields, "storage stopped");
    },
  },
  guards: {
    cycleDue: ({ context }) => context.now() >= context.nextDueAt,
    stopRequested: ({ context }) => context.stopRequested,
    samplesWaiting: ({ context }) => context.pending.length > 0,
  },
  delays: {
    untilCycle: ({ context }) => delayUntil(context.nextDueAt, context.now()),
  },
}).createMachine({
  id: "storage",
  initial: "waiting",
  context: ({ input }) => ({
    ...input,
    nextDueAt: firstAlignedSlot(input.now(), input.storage.periodMs),
    cycleTime: 0,
    cycles: 0,
    samples: 0,
    badSamples: 0,
    overruns: 0,
    appendFailures: 0,
    pending: [],
    dropped: 0,
    droppedNow: 0,
    skippedNow: 0,
    lastAppended: 0,
    stopRequested: false,
  }),
  states: {
    waiting: {
      entry: ["planNextCycle", "logOverruns"],
      always: { guard: "cycleDue", target: "sampling", actions: "takeCycleSlot" },
      after: { untilCycle: { target: "sampling", actions: "takeCycleSlot" } },
      on: {
        SHUTDOWN: [
          { guard: "samplesWaiting", target: "appending", actions: "requestStop" },
          { target: "stopped" },
        ],
      },
    },
    sampling: {
      on: { SHUTDOWN: { actions: "requestStop" } },
      invoke: {
        id: "readStorageTags",
        src: "readStorageTags",
        input: ({ context }) => ({ io: context.io, refs: context.storage.tags }),
        onDone: {
          target: "appending",
          actions: [
            {
              type: "collectSamples",
              params: ({ context, event }) => ({
                samples: cycleSamples(context.storage.tags, event.output, context.cycleTime),
              }),
            },
            "logDropped",
          ],
        },
        onError: {
          target: "appending",
          actions: [
            {
              type: "collectSamples",
              params: ({ context, event }) => ({
                samples: failedCycleSamples(
                  context.storage.tags,
                  errorMessage(event.error),
                  context.cycleTime,
                ),
              }),
            },
            "logDropped",
          ],
        },
      },
    },
    appending: {
      on: { SHUTDOWN: { actions: "requestStop" } },
      invoke: {
        id: "appendSamples",
        src: "appendSamples",
        input: ({ context }) => ({ spool: context.spool, samples: context.pending }),
        onDone: [
          { guard: "stopRequested", target: "stopped", actions: ["recordAppend", "announceStored"] },
          { target: "waiting", actions: ["recordAppend", "announceStored"] },
        ],
        onError: [
          {
            guard: "stopRequested",
            target: "stopped",
            actions: [
              { type: "logAppendFailure", params: ({ event }) => ({ error: event.error }) },
              "recordAppendFailure",
            ],
          },
          {
            target: "waiting",
            actions: [
              { type: "logAppendFailure", params: ({ event }) => ({ error: event.error }) },
              "recordAppendFailure",
            ],
          },
        ],
      },
    },
    stopped: {
      type: "final",
      entry: "logStopped",
    },
  },
});
