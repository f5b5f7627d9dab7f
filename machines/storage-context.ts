/**
 * The storage machine's input, context and events, its first context, and the pure steps of a
 * cycle that turn one context into the next: plan the next slot, take it, record a unit's answer,
 * mark the units late at the deadline, collect the samples, note an append's success or failure.
 */
import type { Reading, Sample, Spool } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { StorageConfig, TagId } from "../schemas/plant-types.ts";
import { type FailureEpisode, noteFailure } from "./failure-episode.ts";
import { type ChangeMemory, noChangeMemory } from "./freshness.ts";
import { clockOffset, firstSlot, reportedStepMs, stampOf } from "./sample-time.ts";
import { planNextSlot } from "./schedule.ts";
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

export const now = (context: StorageContext) => context.clock.monotonic();

/** The cycle's deadline: the configured one, inside the period (the config check refuses any other). */
export function cycleDeadlineMs(storage: StorageConfig): number {
  return storage.deadlineMs > 0 && storage.deadlineMs < storage.periodMs
    ? storage.deadlineMs
    : Math.floor(storage.periodMs * 0.8);
}

export function initialStorageContext(input: StorageInput): StorageContext {
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
}

/** The next slot due, skipping (and counting) the slots a long cycle overran. */
export function nextCycle(context: StorageContext): Partial<StorageContext> {
  const plan = planNextSlot(context.nextDueAt, context.storage.periodMs, now(context));
  return {
    nextDueAt: plan.nextDueAt,
    overruns: context.overruns + plan.overruns,
    skippedNow: plan.overruns,
  };
}

/** Takes the due slot, stamps it with the wall clock and notes a wall-clock step. */
export function cycleSlotTaken(context: StorageContext): Partial<StorageContext> {
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
}

export function unitRead(
  context: StorageContext,
  unit: string,
  readings: ReadonlyMap<TagId, Reading>,
): Partial<StorageContext> {
  return {
    // One entry per unit: a cycle of 10 000 tags copies no reading.
    cycleReadings: new Map(context.cycleReadings).set(unit, readings),
    cycleWaiting: context.cycleWaiting.filter((u) => u !== unit),
  };
}

/** The units still unanswered at the deadline: their tags become bad samples with the reason. */
export function lateUnitsMarked(context: StorageContext): Partial<StorageContext> {
  const at = { time: context.clock.wall(), receivedAt: now(context) };
  const deadline = cycleDeadlineMs(context.storage);
  const why = (unit: string) => `${unit} did not answer within the storage deadline (${deadline} ms)`;
  return {
    cycleReadings: withLateUnits(context.plan, context.cycleReadings, context.cycleWaiting, why, at),
    lateUnits: context.lateUnits + context.cycleWaiting.length,
    cycleWaiting: [],
  };
}

/** The cycle's samples, queued behind those the spool has not taken yet (the oldest dropped beyond the limit). */
export function samplesCollected(context: StorageContext): Partial<StorageContext> {
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
}

export function appended(context: StorageContext): Partial<StorageContext> {
  return { lastAppended: countSamples(context.pending), pending: [], appendEpisode: null };
}

export function appendFailed(context: StorageContext, error: unknown): Partial<StorageContext> {
  return {
    appendFailures: context.appendFailures + 1,
    appendEpisode: noteFailure(context.appendEpisode, now(context), errorMessage(error)).episode,
  };
}
