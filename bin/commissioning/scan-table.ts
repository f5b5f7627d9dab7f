/**
 * `plantbridge scan`'s table: each register (or coil) of the scanned range with its address in hex
 * and decimal and its raw value in hex and decimal, and beside it every tag of the plant file that
 * maps there, decoded in its type — a status word's bits by name, a multi-register value with its
 * word order on its first register (its other registers point back to it). Pure: no I/O.
 */
import { decodeRegisters, isBitArea, widthOf } from "../../adapters/modbus/codec.ts";
import { errorMessage } from "../../lib/errors.ts";
import { formatAddress } from "../../schemas/durations.ts";
import type { ModbusArea, ModbusTagConfig } from "../../schemas/plant-types.ts";

export interface ScanRange {
  area: ModbusArea;
  from: number;
  count: number;
}

/** One register's word (or one coil's 0/1) as the unit served it, or why there is none. */
export type ScannedValue = { raw: number } | { reason: string };

function withUnit(value: string, tag: ModbusTagConfig): string {
  return tag.engineeringUnit === undefined ? value : `${value} ${tag.engineeringUnit}`;
}

function span(tag: ModbusTagConfig): string {
  const width = widthOf(tag);
  return width === 1
    ? formatAddress(tag.address)
    : `${formatAddress(tag.address)}..${formatAddress(tag.address + width - 1)}`;
}

/** What the plant file's tags say about each address of the range (address → notes). */
export function tagNotes(
  tags: readonly ModbusTagConfig[],
  range: ScanRange,
  values: ReadonlyMap<number, ScannedValue>,
): Map<number, string[]> {
  const notes = new Map<number, string[]>();
  const note = (address: number, text: string) => {
    const list = notes.get(address);
    if (list === undefined) notes.set(address, [text]);
    else list.push(text);
  };
  const end = range.from + range.count;
  const inArea = tags.filter(
    (t) => t.area === range.area && t.address < end && t.address + widthOf(t) > range.from,
  );
  const bitsByRegister = new Map<number, ModbusTagConfig[]>();
  for (const tag of inArea) {
    if (tag.type === "bit") {
      bitsByRegister.set(tag.address, [...(bitsByRegister.get(tag.address) ?? []), tag]);
      continue;
    }
    const width = widthOf(tag);
    if (tag.address < range.from || tag.address + width > end) {
      note(
        Math.max(tag.address, range.from),
        `${tag.name}: ${tag.type} at ${span(tag)}, not all of it scanned`,
      );
      continue;
    }
    note(tag.address, decodedTag(tag, range.area, values));
    for (let i = 1; i < width; i++) note(tag.address + i, `(${tag.name}, word ${i + 1} of ${width})`);
  }
  for (const [address, bits] of bitsByRegister) note(address, decodedBits(bits, values.get(address)));
  return notes;
}

function decodedTag(
  tag: ModbusTagConfig,
  area: ModbusArea,
  values: ReadonlyMap<number, ScannedValue>,
): string {
  const width = widthOf(tag);
  const words: number[] = [];
  for (let a = tag.address; a < tag.address + width; a++) {
    const v = values.get(a);
    if (v === undefined || "reason" in v) return `${tag.name}: not decoded (${v?.reason ?? "not read"})`;
    words.push(v.raw);
  }
  if (isBitArea(area)) return `${tag.name} = ${words[0] === 1}`;
  const layout = width > 1 ? `, ${tag.wordOrder}, ${span(tag)}` : "";
  const scaled = tag.scale !== 1 || tag.offset !== 0 ? `, raw × ${tag.scale} + ${tag.offset}` : "";
  try {
    const value = decodeRegisters(words, tag);
    return `${tag.name} = ${withUnit(String(value), tag)} (${tag.type}${layout}${scaled})`;
  } catch (e) {
    return `${tag.name}: not decoded (${errorMessage(e)})`;
  }
}

function decodedBits(bits: readonly ModbusTagConfig[], value: ScannedValue | undefined): string {
  const sorted = [...bits].sort((a, b) => (a.bit ?? 0) - (b.bit ?? 0));
  if (value === undefined || "reason" in value) {
    return `bits ${sorted.map((b) => b.name).join(", ")}: not decoded (${value?.reason ?? "not read"})`;
  }
  const on = sorted.filter((b) => ((value.raw >>> (b.bit ?? 0)) & 1) === 1);
  const off = sorted.filter((b) => ((value.raw >>> (b.bit ?? 0)) & 1) === 0);
  const names = (list: readonly ModbusTagConfig[]) =>
    list.length === 0 ? "-" : list.map((b) => `${b.name}(${b.bit})`).join(" ");
  return `bits on: ${names(on)} | off: ${names(off)}`;
}

function hex(raw: number, bitArea: boolean): string {
  return bitArea ? String(raw) : `0x${raw.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The table: header, then one line per address; decoded tags after the raw value. */
export function scanTable(
  tags: readonly ModbusTagConfig[],
  range: ScanRange,
  values: ReadonlyMap<number, ScannedValue>,
): string[] {
  const bitArea = isBitArea(range.area);
  const notes = tagNotes(tags, range, values);
  const rows: string[][] = [["ADDRESS", "DEC", "HEX", "RAW", "TAGS"]];
  for (let address = range.from; address < range.from + range.count; address++) {
    const v = values.get(address);
    const raw =
      v === undefined
        ? ["", "-", "not read"]
        : "reason" in v
          ? ["", "-", v.reason]
          : [hex(v.raw, bitArea), String(v.raw)];
    const [hexText = "", dec = "", reason] = raw;
    const text = [reason, ...(notes.get(address) ?? [])].filter((t) => t !== undefined).join("; ");
    rows.push([formatAddress(address), String(address), hexText, dec, text]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/** Consecutive addresses that failed for the same reason, as `0x9000..0x907C: reason`. */
export function failedRanges(range: ScanRange, values: ReadonlyMap<number, ScannedValue>): string[] {
  const out: string[] = [];
  let start: number | undefined;
  let reason: string | undefined;
  const flush = (endExclusive: number) => {
    if (start === undefined || reason === undefined) return;
    const last = endExclusive - 1;
    out.push(
      `${start === last ? formatAddress(start) : `${formatAddress(start)}..${formatAddress(last)}`}: ${reason}`,
    );
    start = undefined;
    reason = undefined;
  };
  for (let a = range.from; a < range.from + range.count; a++) {
    const v = values.get(a);
    const why = v === undefined ? "not read" : "reason" in v ? v.reason : undefined;
    if (why !== reason) flush(a);
    if (why !== undefined && start === undefined) {
      start = a;
      reason = why;
    }
  }
  flush(range.from + range.count);
  return out;
}
