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
import { assign, fromCallback, fromPromise, sendParent, setup } from "xstate";
import type { Reading, Sample, Spool } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { StorageConfig, TagId } from "../schemas/plant-types.ts";
import { describeDuration, type FailureEpisode, noteFailure, noteRecovery } from "./failure-episode.ts";
import { type ChangeMemory, noChangeMemory } from "./freshness.ts";
import { clockOffset, firstSlot, reportedStepMs, stampOf } from "./sample-time.ts";
import { delayUntil, planNextSlot } from "./schedule.ts";
import {
  type CycleReadings,
  collectCycle,
  countBad,
  countSamples,
  pendingLimitFor,
  queueCycle,
  type StoragePlan,
  storagePlan,
  withLateUnits,
} from "./storage-samples.ts";

/** What storage needs of the tag I/O: a `TagIO` fits. */
export interface StorageIO {
  readUnit(unit: string, tags: readonly string[]): Promise<Map<TagId, Reading>>;
  maxAgeOf(id: TagId): number | undefined;
}

export interface StorageInput {
  storage: StorageConfig;
  io: StorageIO;
  spool: Pick<Spool, "append">;
  clock: Clock;
  log: Log;
  /** Samples kept in memory while the spool refuses them; default pendingLimitFor(tags per cycle). */
  pendingLimit?: number;
}

export interface StorageContext extends StorageInput {
  /** The next slot not yet taken (monotonic ms). */
  nextDueAt: number;
  /** wall − monotonic when the last slot was stamped (a change is a wall-clock step). */
  offset: number;
  /** The slot being sampled (monotonic ms) and its stamp (wall-clock epoch ms). */
  cycleSlot: number;
  cycleTime: number;
  /** What every cycle works from, worked out once (tag ids, tags per unit, tags with a maxAge). */
  plan: StoragePlan;
  /** Readings of the cycle so far, per unit, and the units it still waits for. */
  cycleReadings: CycleReadings;
  cycleWaiting: readonly string[];
  cycles: number;
  samples: number;
  badSamples: number;
  overruns: number;
  /** Units that missed a cycle's deadline, summed over cycles. */
  lateUnits: number;
  clockSteps: number;
  appendFailures: number;
  /** Cycles taken but not yet in the spool (a failed append keeps them here), oldest first. */
  pending: readonly (readonly Sample[])[];
  /** Samples dropped because `pending` outgrew its limit while the spool refused them. */
  dropped: number;
  droppedNow: number;
  skippedNow: number;
  /** The wall clock's step seen when the current slot was taken (0 when none). */
  stepNowMs: number;
  lastAppended: number;
  appendEpisode: FailureEpisode | null;
  changes: ChangeMemory;
  stopRequested: boolean;
}

export type StorageEvent =
  | { type: "SHUTDOWN" }
  | { type: "UNIT_READ"; unit: string; readings: ReadonlyMap<TagId, Reading> };

export type StorageNotice = { type: "SAMPLES_STORED"; count: number };

const now = (context: StorageContext) => context.clock.monotonic();

/** The cycle's deadline: the configured one, inside the period (the config check refuses any other). */
function cycleDeadlineMs(storage: StorageConfig): number {
  return storage.deadlineMs > 0 && storage.deadlineMs < storage.periodMs
    ? storage.deadlineMs
    : Math.floor(storage.periodMs * 0.8);
}

/** Reads each unit's stored tags in parallel and reports each unit as it answers. */
const readCycle = fromCallback<StorageEvent, { io: StorageIO; byUnit: StoragePlan["byUnit"] }>(
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

export const storageMachine = setup({
  types: {
    input: {} as StorageInput,
    context: {} as StorageContext,
    events: {} as StorageEvent,
  },
  actors: {
    readCycle,
    appendSamples: fromPromise<number, { spool: Pick<Spool, "append">; samples: readonly Sample[] }>(
      async ({ input }) => input.spool.append(input.samples),
    ),
  },
  actions: {
    planNextCycle: assign(({ context }) => {
      const plan = planNextSlot(context.nextDueAt, context.storage.periodMs, now(context));
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
    takeCycleSlot: assign(({ context }) => {
      const offset = clockOffset(context.clock);
      const stepped = Math.abs(offset - context.offset) >= reportedStepMs;
      return {
        cycleSlot: context.nextDueAt,
        cycleTime: stampOf(context.nextDueAt, offset, context.storage.periodMs),
        nextDueAt: context.nextDueAt + context.storage.periodMs,
        offset,
        clockSteps: context.clockSteps + (stepped ? 1 : 0),
        cycleReadings: new Map(),
        cycleWaiting: context.plan.units,
        stepNowMs: stepped ? offset - context.offset : 0,
      };
    }),
    logClockStep: ({ context }) => {
      if (context.stepNowMs === 0) return;
      const step = context.stepNowMs;
      context.log.warn(
        { stepMs: Math.round(step), stamp: new Date(context.cycleTime).toISOString() },
        `the wall clock stepped ${step > 0 ? "forward" : "back"} by ${describeDuration(Math.abs(step))}: ` +
          "storage keeps its cadence, sample times follow the clock" +
          (step < 0 ? "; samples that meet times already stored are kept as conflicts, never dropped" : ""),
      );
    },
    recordUnitRead: assign(
      ({ context }, params: { unit: string; readings: ReadonlyMap<TagId, Reading> }) => ({
        // One entry per unit: a cycle of 10 000 tags copies no reading.
        cycleReadings: new Map(context.cycleReadings).set(params.unit, params.readings),
        cycleWaiting: context.cycleWaiting.filter((u) => u !== params.unit),
      }),
    ),
    markLateUnits: assign(({ context }) => {
      const at = { time: context.clock.wall(), receivedAt: now(context) };
      const deadline = cycleDeadlineMs(context.storage);
      const why = (unit: string) => `${unit} did not answer within the storage deadline (${deadline} ms)`;
      return {
        cycleReadings: withLateUnits(context.plan, context.cycleReadings, context.cycleWaiting, why, at),
        lateUnits: context.lateUnits + context.cycleWaiting.length,
        cycleWaiting: [],
      };
    }),
    logLateUnits: ({ context }) => {
      // cycleWaiting was cleared by markLateUnits; the reasons are in the readings.
      context.log.debug({ lateUnits: context.lateUnits }, "storage deadline passed with units unanswered");
    },
    collectSamples: assign(({ context }) => {
      const { samples, memory } = collectCycle(context.plan, context.cycleReadings, context.cycleTime, {
        changes: context.changes,
        maxAgeOf: context.io.maxAgeOf,
        now: now(context),
      });
      const limit = context.pendingLimit ?? pendingLimitFor(context.storage.tags.length);
      const { waiting, dropped } = queueCycle(context.pending, samples, limit);
      return {
        changes: memory,
        cycles: context.cycles + 1,
        samples: context.samples + samples.length,
        badSamples: context.badSamples + countBad(samples),
        pending: waiting,
        dropped: context.dropped + dropped,
        droppedNow: dropped,
        cycleReadings: new Map(),
      };
    }),
    logDropped: ({ context }) => {
      if (context.droppedNow > 0)
        context.log.error(
          { dropped: context.droppedNow, total: context.dropped, kept: countSamples(context.pending) },
          `the spool refuses samples and memory holds ${countSamples(context.pending)}: the oldest ${context.droppedNow} dropped`,
        );
    },
    logAppendRecovered: ({ context }) => {
      const ended = noteRecovery(context.appendEpisode, now(context));
      if (ended.kind !== "ended") return;
      context.log.info(
        { failures: ended.episode.failures, dropped: context.dropped },
        `spool appends work again after ${describeDuration(ended.forMs)} (${ended.episode.failures} failed, ${context.dropped} samples dropped in all)`,
      );
    },
    recordAppend: assign(({ context }) => ({
      lastAppended: countSamples(context.pending),
      pending: [],
      appendEpisode: null,
    })),
    announceStored: sendParent(
      ({ context }): StorageNotice => ({ type: "SAMPLES_STORED", count: context.lastAppended }),
    ),
    recordAppendFailure: assign(({ context }, params: { error: unknown }) => ({
      appendFailures: context.appendFailures + 1,
      appendEpisode: noteFailure(context.appendEpisode, now(context), errorMessage(params.error)).episode,
    })),
    logAppendFailure: ({ context }) => {
      const episode = context.appendEpisode;
      if (episode === null) return;
      const waiting = countSamples(context.pending);
      const fields = {
        reason: episode.lastReason,
        waiting,
        failures: episode.failures,
        dropped: context.dropped,
      };
      const message = `spool append failed, ${waiting} samples kept in memory for the next cycle: ${episode.lastReason}`;
      if (episode.failures === 1) context.log.warn(fields, message);
      else if (episode.loggedAt === now(context))
        context.log.warn(
          fields,
          `spool appends failing for ${describeDuration(now(context) - episode.since)} (${episode.failures} cycles, ${context.dropped} samples dropped): ${episode.lastReason}`,
        );
      else context.log.debug(fields, message);
    },
    requestStop: assign({ stopRequested: true }),
    logStopped: ({ context }) => {
      const unstored = countSamples(context.pending);
      const fields = { cycles: context.cycles, samples: context.samples, unstored };
      if (unstored > 0)
        context.log.error(fields, `storage stopped with ${unstored} samples the spool refused`);
      else context.log.info(fields, "storage stopped");
    },
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
  context: ({ input }) => {
    const first = firstSlot(input.clock, input.storage.periodMs);
    return {
      ...input,
      nextDueAt: first.slot,
      offset: first.offset,
      cycleSlot: 0,
      cycleTime: 0,
      plan: storagePlan(input.storage.tags, input.io.maxAgeOf),
      cycleReadings: new Map(),
      cycleWaiting: [],
      cycles: 0,
      samples: 0,
      badSamples: 0,
      overruns: 0,
      lateUnits: 0,
      clockSteps: 0,
      appendFailures: 0,
      pending: [],
      dropped: 0,
      droppedNow: 0,
      skippedNow: 0,
      stepNowMs: 0,
      lastAppended: 0,
      appendEpisode: null,
      changes: noChangeMemory,
      stopRequested: false,
    };
  },
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
