/**
 * Turning one storage cycle's readings into samples, and bounding what waits for the spool.
 * Pure functions: every configured tag gives exactly one sample per cycle, stamped with the
 * cycle's time; a failed or missing read is a bad-quality sample with its reason.
 */
import type { Reading, ReadingStamp, Sample } from "../adapters/types.ts";
import type { TagId, TagRef } from "../schemas/plant-types.ts";
import { parseTagId, tagId } from "../schemas/plant-types.ts";
import { type ChangeMemory, judgeFreshness } from "./freshness.ts";
import { tagsByUnit } from "./plant-tags.ts";

/**
 * What storage works from every cycle, worked out once from the configured tags: the tag ids in
 * storage order with each one's unit, the tags per unit (one read each), and the tags that have a
 * `maxAge` (judged for frozen values).
 */
export interface StoragePlan {
  ids: readonly TagId[];
  /** The unit of `ids[i]`. */
  unitOf: readonly string[];
  byUnit: ReadonlyMap<string, readonly string[]>;
  units: readonly string[];
  aged: readonly TagId[];
}

export function storagePlan(
  tags: readonly TagRef[],
  maxAgeOf: (id: TagId) => number | undefined,
): StoragePlan {
  const ids = tags.map(tagId);
  const byUnit = tagsByUnit(tags);
  return {
    ids,
    unitOf: tags.map((ref) => ref.unit),
    byUnit,
    units: [...byUnit.keys()],
    aged: ids.filter((id) => maxAgeOf(id) !== undefined),
  };
}

/** A cycle's readings so far, per unit (one entry per unit's answer). */
export type CycleReadings = ReadonlyMap<string, ReadonlyMap<TagId, Reading>>;

/** The readings with every tag of each late unit bad, with `why(unit)` as the reason. */
export function withLateUnits(
  plan: StoragePlan,
  readings: CycleReadings,
  late: readonly string[],
  why: (unit: string) => string,
  at: ReadingStamp,
): CycleReadings {
  const all = new Map(readings);
  for (const unit of late) {
    const reason = why(unit);
    const bad = new Map<TagId, Reading>();
    for (const tag of plan.byUnit.get(unit) ?? []) {
      bad.set(tagId({ unit, tag }), { value: null, quality: "bad", reason, ...at });
    }
    all.set(unit, bad);
  }
  return all;
}

/**
 * The cycle's samples from its readings: tags with a `maxAge` judged for frozen values first (the
 * others pass as read), then one sample per stored tag. Returns the freshness memory to keep.
 */
export function collectCycle(
  plan: StoragePlan,
  readings: CycleReadings,
  time: number,
  freshness: { changes: ChangeMemory; maxAgeOf: (id: TagId) => number | undefined; now: number },
): { samples: Sample[]; memory: ChangeMemory } {
  const readingOf = (i: number) => readings.get(plan.unitOf[i] as string)?.get(plan.ids[i] as TagId);
  const aged = new Map<TagId, Reading>();
  for (const id of plan.aged) {
    const reading = readings.get(parseTagId(id).unit)?.get(id);
    if (reading !== undefined) aged.set(id, reading);
  }
  const fresh = judgeFreshness(aged, freshness.changes, freshness.maxAgeOf, freshness.now);
  const judged = fresh.readings;
  const samples = cycleSamples(
    plan.ids,
    judged.size === 0 ? readingOf : (i) => judged.get(plan.ids[i] as TagId) ?? readingOf(i),
    time,
  );
  return { samples, memory: fresh.memory };
}

/** One sample per stored tag, in storage order; `readingOf(i)` is the reading of `ids[i]`. */
export function cycleSamples(
  ids: readonly TagId[],
  readingOf: (index: number) => Reading | undefined,
  time: number,
): Sample[] {
  const samples = new Array<Sample>(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as TagId;
    const reading = readingOf(i);
    if (reading === undefined) {
      samples[i] = { tag: id, time, value: null, quality: "bad", reason: `${id} not read` };
    } else if (reading.quality !== "good" || reading.value === null) {
      samples[i] = { tag: id, time, value: null, quality: "bad", reason: reading.reason ?? "no value" };
    } else {
      samples[i] = { tag: id, time, value: reading.value, quality: "good" };
    }
  }
  return samples;
}

export function countBad(samples: readonly Sample[]): number {
  let bad = 0;
  for (const s of samples) if (s.quality !== "good") bad++;
  return bad;
}

/**
 * Cycles waiting for the spool (a failed append keeps them), oldest first, bounded: past `limit`
 * samples the oldest cycles go, and how many samples went is returned. Never copies samples, only
 * the (bounded) list of cycles.
 */
export function queueCycle(
  waiting: readonly (readonly Sample[])[],
  cycle: readonly Sample[],
  limit: number,
): { waiting: (readonly Sample[])[]; dropped: number } {
  const next = [...waiting, cycle];
  let held = 0;
  for (const c of next) held += c.length;
  let dropped = 0;
  while (held > limit && next.length > 1) {
    const oldest = next.shift() ?? [];
    held -= oldest.length;
    dropped += oldest.length;
  }
  return { waiting: next, dropped };
}

export function countSamples(waiting: readonly (readonly Sample[])[]): number {
  let n = 0;
  for (const c of waiting) n += c.length;
  return n;
}

/** How many samples storage keeps in memory while the spool refuses them: ten cycles, at least 10 000. */
export function pendingLimitFor(samplesPerCycle: number): number {
  return Math.max(10_000, samplesPerCycle * 10);
}
