/**
 * The words of a conflict: a sample not stored because the historian already holds another value
 * at its (tag, time). They become the dead letter's reason, so they name the tag, the time, the
 * stored value and the new one.
 */
import type { Quality, SpooledSample } from "../types.ts";

/** `12.5 (good)`, `true (good)`, `NULL (bad: Modbus exception 2)`. */
export function describeValue(
  value: number | boolean | null,
  quality: Quality,
  reason?: string | null,
): string {
  const shown = value === null ? "NULL" : String(value);
  return quality === "good" ? `${shown} (good)` : `${shown} (bad${reason ? `: ${reason}` : ""})`;
}

export function isoTime(epochMs: number): string {
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? `${epochMs} ms` : date.toISOString();
}

/** A narrow-layout conflict: the row (tag, time) holds `stored`. */
export function narrowConflictReason(
  sample: SpooledSample,
  stored: { value: number | null; quality: Quality; reason: string | null },
): string {
  return (
    `conflict: the historian already holds ${sample.tag} at ${isoTime(sample.time)} = ` +
    `${describeValue(stored.value, stored.quality, stored.reason)}; this sample has ` +
    `${describeValue(sample.value, sample.quality, sample.reason)}; the stored value is not overwritten`
  );
}

/** A wide-layout conflict: the cell (time, column) holds `stored`. */
export function wideConflictReason(
  sample: SpooledSample,
  cell: { table: string; column: string; time: string; stored: number },
): string {
  return (
    `conflict: ${cell.table} already holds ${cell.stored} in column "${cell.column}" at ${cell.time}; ` +
    `${sample.tag} at ${isoTime(sample.time)} has ${describeValue(sample.value, sample.quality, sample.reason)}; ` +
    "the stored value is not overwritten"
  );
}
