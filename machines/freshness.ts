/**
 * Frozen values: a tag with `maxAge` whose good value has not changed for longer than that counts
 * as stale (a PLC program that stopped while its communication runs on). Each consumer (a control
 * loop, storage) remembers when it saw each such value change; pure, on the monotonic clock.
 */
import type { Reading, TagValue } from "../adapters/types.ts";
import type { TagId } from "../schemas/plant-types.ts";

export interface SeenValue {
  value: TagValue;
  /** Monotonic ms when the value was first seen with this value. */
  changedAt: number;
}

/** Remembered values of the tags that have a `maxAge`, by tag id. */
export type ChangeMemory = ReadonlyMap<TagId, SeenValue>;

export const noChangeMemory: ChangeMemory = new Map();

export interface FreshnessResult {
  readings: Map<TagId, Reading>;
  memory: ChangeMemory;
}

/**
 * Remembers changes of the tags with a max age and turns a good value unchanged for longer than
 * its max age into a bad reading that says so. Tags without a max age pass untouched.
 */
export function judgeFreshness(
  readings: ReadonlyMap<TagId, Reading>,
  memory: ChangeMemory,
  maxAgeOf: (id: TagId) => number | undefined,
  now: number,
): FreshnessResult {
  let next: Map<TagId, SeenValue> | undefined;
  const out = new Map(readings);
  for (const [id, reading] of readings) {
    const maxAge = maxAgeOf(id);
    if (maxAge === undefined || reading.quality !== "good" || reading.value === null) continue;
    const seen = memory.get(id);
    let changedAt = seen?.changedAt ?? reading.receivedAt;
    if (seen === undefined || seen.value !== reading.value) {
      changedAt = reading.receivedAt;
      next ??= new Map(memory);
      next.set(id, { value: reading.value, changedAt });
    }
    const unchangedFor = now - changedAt;
    if (unchangedFor > maxAge) {
      out.set(id, {
        ...reading,
        value: null,
        quality: "bad",
        reason: `${id} frozen: ${String(reading.value)} unchanged for ${seconds(unchangedFor)} s (maxAge ${seconds(maxAge)} s)`,
      });
    }
  }
  return { readings: out, memory: next ?? memory };
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
