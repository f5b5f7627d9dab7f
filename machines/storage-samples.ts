/**
 * Turning one storage cycle's readings into samples, and bounding what waits for the spool.
 * Pure functions: every configured tag gives exactly one sample per cycle, stamped with the
 * cycle's time; a failed or missing read is a bad-quality sample with its reason.
 */
import type { Reading, Sample } from "../adapters/types.ts";
import type { TagId, TagRef } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";

export function cycleSamples(
  tags: readonly TagRef[],
  readings: ReadonlyMap<TagId, Reading>,
  time: number,
): Sample[] {
  return tags.map((ref) => {
    const id = tagId(ref);
    const reading = readings.get(id);
    if (reading === undefined)
      return { tag: id, time, value: null, quality: "bad", reason: `${id} not read` };
    if (reading.quality !== "good" || reading.value === null) {
      return { tag: id, time, value: null, quality: "bad", reason: reading.reason ?? "no value" };
    }
    return { tag: id, time, value: reading.value, quality: "good" };
  });
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
