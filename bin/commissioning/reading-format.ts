/**
 * Readings as a person reads them on a terminal: one row per tag with value, engineering unit,
 * quality, time and reason; or one JSON object per line for scripts (`--json`).
 */
import type { Reading, TagValue } from "../../adapters/types.ts";

export interface TagReading {
  /** `UNIT.tag` */
  id: string;
  reading: Reading;
  engineeringUnit?: string;
}

const header = ["TAG", "VALUE", "UNIT", "QUALITY", "TIME", "REASON"] as const;

export function formatValue(value: TagValue | null): string {
  if (value === null) return "-";
  return String(value);
}

function cells(r: TagReading): string[] {
  return [
    r.id,
    formatValue(r.reading.value),
    r.engineeringUnit ?? "",
    r.reading.quality,
    new Date(r.reading.time).toISOString(),
    r.reading.reason ?? "",
  ];
}

/** Column widths that fit the header and these rows. */
export function columnWidths(rows: readonly TagReading[]): number[] {
  const widths: number[] = header.map((h) => h.length);
  for (const row of rows) {
    cells(row).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return widths;
}

function line(values: readonly string[], widths: readonly number[]): string {
  return values
    .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
    .join("  ")
    .trimEnd();
}

/** The header line and one line per reading, columns aligned. */
export function readingTable(rows: readonly TagReading[], widths = columnWidths(rows)): string[] {
  return [line(header, widths), ...rows.map((r) => line(cells(r), widths))];
}

/** One reading as a table row with the given widths (for `--watch`). */
export function readingRow(row: TagReading, widths: readonly number[]): string {
  return line(cells(row), widths);
}

export function readingJson(row: TagReading): string {
  return JSON.stringify({
    tag: row.id,
    value: row.reading.value,
    quality: row.reading.quality,
    ...(row.reading.reason !== undefined ? { reason: row.reading.reason } : {}),
    ...(row.engineeringUnit !== undefined ? { unit: row.engineeringUnit } : {}),
    time: new Date(row.reading.time).toISOString(),
  });
}

/** A reading changed when its value, quality or reason did (a new time alone is no change). */
export function changed(before: Reading | undefined, after: Reading): boolean {
  return (
    before === undefined ||
    before.value !== after.value ||
    before.quality !== after.quality ||
    before.reason !== after.reason
  );
}
