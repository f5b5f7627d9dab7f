/**
 * Storage: every `periodMs` (a drift-free grid of slots on the monotonic clock, stamped with the
 * wall-clock grid time: sample-time.ts) read all configured tags, one request per unit, units in
 * parallel, and turn each reading into a sample stamped with the cycle's time.
 *
 * Every slot is stored for every unit: a cycle waits for the units until its deadline
 * (`deadlineMs`, inside the period); a unit that has not answered by then gives its samples bad
 * quality with the reason, the other units' samples are stored good in the same slot. A hung,
 * dead or half-open unit therefore never costs another unit a slot.
 *
 * The cycle is appended to the spool in one call. A failed append keeps the samples in memory and
 * retries them with the next cycle, up to a small limit (pendingLimit); beyond it the oldest
 * cycles are dropped, counted and logged. A run of failed appends is logged at warn when it starts,
 * every 5 minutes while it lasts and at info when it ends. Tells the parent `SAMPLES_STORED` after
 * each append, so forwarders need not wait.
 */
import { assign, sendParent, setup } from "xstate";
import type { Reading, Sample } from "../adapters/types.ts";
import type { TagId } from "../schemas/plant-types.ts";
import { delayUntil } from "./schedule.ts";
import { appendSamples, readCycle } from "./storage-actors.ts";
import {
  appended,
  appendFailed,
  cycleDeadlineMs,
  cycleSlotTaken,
  initialStorageContext,
  lateUnitsMarked,
  nextCycle,
  now,
  type StorageContext,
  type StorageEvent,
  type StorageInput,
  type StorageIO,
  type StorageNotice,
  samplesCollected,
  unitRead,
} from "./storage-context.ts";
import {
  logAppendFailure,
  logAppendRecovered,
  logClockStep,
  logDropped,
  logLateUnits,
  logOverruns,
  logStopped,
} from "./storage-logging.ts";

export type { StorageContext, StorageEvent, StorageInput, StorageIO, StorageNotice };

export const storageMachine = setup({
  types: {
    input: {} as StorageInput,
    context: {} as StorageContext,
    events: {} as StorageEvent,
  },
  actors: { readCycle, appendSamples },
  actions: {
    planNextCycle: assign(({ context }) => nextCycle(context)),
    logOverruns: ({ context }) => logOverruns(context),
    takeCycleSlot: assign(({ context }) => cycleSlotTaken(context)),
    logClockStep: ({ context }) => logClockStep(context),
    recordUnitRead: assign(({ context }, params: { unit: string; readings: ReadonlyMap<TagId, Reading> }) =>
      unitRead(context, params.unit, params.readings),
    ),
    markLateUnits: assign(({ context }) => lateUnitsMarked(context)),
    logLateUnits: ({ context }) => logLateUnits(context),
    collectSamples: assign(({ context }) => samplesCollected(context)),
    logDropped: ({ context }) => logDropped(context),
    logAppendRecovered: ({ context }) => logAppendRecovered(context),
    recordAppend: assign(({ context }) => appended(context)),
    announceStored: sendParent(
      ({ context }): StorageNotice => ({ type: "SAMPLES_STORED", count: context.lastAppended }),
    ),
    recordAppendFailure: assign(({ context }, params: { error: unknown }) =>
      appendFailed(context, params.error),
    ),
    logAppendFailure: ({ context }) => logAppendFailure(context),
    requestStop: assign({ stopRequested: true }),
    logStopped: ({ context }) => logStopped(context),
  },
  guards: {
    cycleDue: ({ context }) => now(context) >= context.nextDueAt,
    allUnitsAnswered: ({ context }) => context.cycleWaiting.length === 0,
    stopRequested: ({ context }) => context.stopRequested,
    samplesWaiting: ({ context }) => context.pending.length > 0,
  },
  delays: {
    untilCycle: ({ context }) => delayUntil(context.nextDueAt, now(context)),
    untilDeadline: ({ context }) =>
      delayUntil(context.cycleSlot + cycleDeadlineMs(context.storage), now(context)),
  },
}).createMachine({
  id: "storage",
  initial: "waiting",
  context: ({ input }) => initialStorageContext(input),
  states: {
    waiting: {
      entry: ["planNextCycle", "logOverruns"],
      always: { guard: "cycleDue", target: "sampling", actions: ["takeCycleSlot", "logClockStep"] },
      after: { untilCycle: { target: "sampling", actions: ["takeCycleSlot", "logClockStep"] } },
      on: {
        SHUTDOWN: [
          { guard: "samplesWaiting", target: "appending", actions: "requestStop" },
          { target: "stopped" },
        ],
      },
    },
    sampling: {
      on: {
        SHUTDOWN: { actions: "requestStop" },
        UNIT_READ: {
          actions: {
            type: "recordUnitRead",
            params: ({ event }) => ({ unit: event.unit, readings: event.readings }),
          },
        },
      },
      invoke: {
        id: "readCycle",
        src: "readCycle",
        input: ({ context }) => ({ io: context.io, byUnit: context.plan.byUnit }),
      },
      always: { guard: "allUnitsAnswered", target: "appending", actions: ["collectSamples", "logDropped"] },
      after: {
        untilDeadline: {
          target: "appending",
          actions: ["markLateUnits", "logLateUnits", "collectSamples", "logDropped"],
        },
      },
    },
    appending: {
      on: { SHUTDOWN: { actions: "requestStop" } },
      invoke: {
        id: "appendSamples",
        src: "appendSamples",
        input: ({ context }) => ({
          spool: context.spool,
          samples:
            context.pending.length === 1 ? (context.pending[0] as readonly Sample[]) : context.pending.flat(),
        }),
        onDone: [
          {
            guard: "stopRequested",
            target: "stopped",
            actions: ["logAppendRecovered", "recordAppend", "announceStored"],
          },
          { target: "waiting", actions: ["logAppendRecovered", "recordAppend", "announceStored"] },
        ],
        onError: [
          {
            guard: "stopRequested",
            target: "stopped",
            actions: [
              { type: "recordAppendFailure", params: ({ event }) => ({ error: event.error }) },
              "logAppendFailure",
            ],
          },
          {
            target: "waiting",
            actions: [
              { type: "recordAppendFailure", params: ({ event }) => ({ error: event.error }) },
              "logAppendFailure",
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
