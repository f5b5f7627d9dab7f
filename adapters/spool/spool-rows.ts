/**
 * How a sample sits in a spool row and comes back out: SQLite has no boolean, so a value is
 * stored as REAL plus its kind, and booleans, nulls and numbers round-trip exactly.
 */
import type { SQLOutputValue } from "node:sqlite";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { TagRef } from "../../schemas/plant-types.ts";
import type { Quality, Sample, SpooledSample, TagValue } from "../types.ts";

export type ValueKind = "number" | "boolean" | "null";

export interface StoredValue {
  value: number | null;
  kind: ValueKind;
}

/** The REAL a value is stored as (booleans 1/0); without an object per sample, for the append's hot path. */
export function storedNumber(value: TagValue | null): number | null {
  if (value === null) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}

export function kindOf(value: TagValue | null): ValueKind {
  if (value === null) return "null";
  return typeof value === "boolean" ? "boolean" : "number";
}

export function encodeValue(value: TagValue | null): StoredValue {
  if (value === null) return { value: null, kind: "null" };
  if (typeof value === "boolean") return { value: value ? 1 : 0, kind: "boolean" };
  return { value, kind: "number" };
}

/** The unit and tag of a sample's `UNIT.tag` id, as far as it can be split. */
export function originOf(tag: string): Partial<TagRef> {
  const dot = tag.indexOf(".");
  if (dot <= 0 || dot === tag.length - 1) return { tag };
  return { unit: tag.slice(0, dot), tag: tag.slice(dot + 1) };
}

/** Refuses a sample the spool could not give back unchanged. */
export function checkSample(sample: Sample): void {
  const bad = (what: string): PlantbridgeError =>
    new PlantbridgeError(ErrorCode.BAD_INPUT, `spool: ${what}`, originOf(String(sample.tag)));
  if (typeof sample.tag !== "string" || sample.tag.length === 0) throw bad("sample without a tag");
  if (!Number.isSafeInteger(sample.time)) throw bad(`sample time ${sample.time} is not whole epoch ms`);
  const v = sample.value;
  if (v !== null && typeof v !== "number" && typeof v !== "boolean") {
    throw bad(`sample value of type ${typeof v} (number, boolean or null expected)`);
  }
  if (sample.quality !== "good" && sample.quality !== "bad") {
    throw bad(`sample quality "${String(sample.quality)}" (good or bad expected)`);
  }
  if (sample.reason !== undefined && typeof sample.reason !== "string")
    throw bad("sample reason is not text");
}

function decodeValue(value: SQLOutputValue, kind: SQLOutputValue): TagValue | null {
  if (kind === "null") return null;
  // SQLite stores NaN as NULL: a number whose value came back NULL was NaN.
  if (value === null) return Number.NaN;
  const n = Number(value);
  return kind === "boolean" ? n !== 0 : n;
}

/** A row of `SELECT seq, tag, time, value, value_kind, quality, reason FROM samples`. */
export function decodeSample(row: Record<string, SQLOutputValue>): SpooledSample {
  const sample: SpooledSample = {
    seq: Number(row.seq),
    tag: String(row.tag),
    time: Number(row.time),
    value: decodeValue(row.value ?? null, row.value_kind ?? "null"),
    quality: row.quality as Quality,
  };
  if (row.reason !== null && row.reason !== undefined) sample.reason = String(row.reason);
  return sample;
}

/** A held sample's row (`value, value_kind, quality, reason`): what a new one with its tag and time meets. */
export type HeldValue = Record<string, SQLOutputValue>;

/**
 * Whether a new sample is the one the spool holds for its tag and time: the same value (NaN
 * equals NaN, as SQLite keeps both as NULL) and quality. The bad-quality reason is not compared.
 */
export function sameAsHeld(held: HeldValue, sample: Sample): boolean {
  const v = encodeValue(sample.value);
  const value = v.value !== null && Number.isNaN(v.value) ? null : v.value;
  const heldValue = held.value === null || held.value === undefined ? null : Number(held.value);
  return held.value_kind === v.kind && heldValue === value && held.quality === sample.quality;
}

/** A value as an operator reads it in a message: `12.5`, `true`, `null`, `NaN`, and `(bad: …)`. */
export function describeValue(value: TagValue | null, quality: Quality, reason?: string): string {
  const text = value === null ? "null" : String(value);
  if (quality === "good") return text;
  return `${text} (bad${reason === undefined ? "" : `: ${reason}`})`;
}

/** The held sample as `describeValue` shows it. */
export function describeHeld(held: HeldValue): string {
  const reason = held.reason === null || held.reason === undefined ? undefined : String(held.reason);
  return describeValue(
    decodeValue(held.value ?? null, held.value_kind ?? "null"),
    held.quality as Quality,
    reason,
  );
}
