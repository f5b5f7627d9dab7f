/**
 * Turning one storage cycle's readings into samples, and bounding what waits for the spool.
 * Pure functions: every configured tag gives exactly one sample per cycle, stamped with the
 * cycle's scheduled time; a failed read is a bad-quality sample with its reason.
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

/** A cycle whose read failed as a whole: one bad sample per tag with the reason. */
export function failedCycleSamples(tags: readonly TagRef[], reason: string, time: number): Sample[] {
  return tags.map((ref) => ({ tag: tagId(ref), time, value: null, quality: "bad", reason }));
}

export function countBad(samples: readonly Sample[]): number {
  let bad = 0;
  for (const s of samples) if (s.quality !== "good") bad++;
  return bad;
}

/** Keeps at most `max` samples, the newest; returns how many of the oldest were dropped. */
export function keepNewest(samples: readonly Sample[], max: number): { kept: Sample[]; dropped: number } {
  const limit = Math.max(0, Math.floor(max));
  if (samples.length <= limit) return { kept: [...samples], dropped: 0 };
  return { kept: samples.slice(samples.length - limit), dropped: samples.length - limit };
}
