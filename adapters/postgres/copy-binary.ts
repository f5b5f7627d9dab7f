/**
 * PostgreSQL's binary COPY format for the narrow layout's rows: the signature and header, one
 * tuple per row (field count, then each field as its length and its bytes in network order, -1
 * for NULL), the trailer. Values travel as the COPY protocol's data, never spliced into SQL text.
 *
 * Columns, in order: time timestamptz (int8 µs since 2000-01-01 UTC), tag_id int4, value float8,
 * quality int2 (0 good, 1 bad), reason text (UTF-8) — and, for the staging table only, the row's
 * index in the batch (int4), so the conflict check can name the sample it concerns.
 */
import type { SpooledSample } from "../types.ts";

const signature = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
/** 2000-01-01T00:00:00Z in epoch ms: PostgreSQL's timestamp origin. */
const postgresEpochMs = 946_684_800_000;
const twoTo32 = 2 ** 32;

/**
 * The largest double below 2^63: past PostgreSQL's last timestamp (294276 AD), yet not its
 * 'infinity' (2^63 - 1). A time the int8 cannot hold is sent as this (or its negative), so the
 * server refuses it as out of range (SQLSTATE 22008) like any other time it cannot store.
 */
const outOfRangeMicros = 2 ** 63 - 2 ** 10;

/** Microseconds since PostgreSQL's epoch, as the int8 the binary format holds. */
export function postgresMicros(epochMs: number): number {
  const micros = Math.round((epochMs - postgresEpochMs) * 1000);
  if (Number.isNaN(micros)) return outOfRangeMicros;
  return Math.max(-outOfRangeMicros, Math.min(outOfRangeMicros, micros));
}

/** The fixed bytes of a row without its reason text (and without the index column). */
const fixedRowBytes = 2 + (4 + 8) + (4 + 4) + (4 + 8) + (4 + 2) + 4;

/** The double a sample's value is stored as: booleans 1/0, null stays null. */
function storedValue(value: SpooledSample["value"]): number | null {
  if (value === null) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}

/**
 * The whole COPY data of `batch` in one buffer, `tagIds[i]` the tag id of `batch[i]`. `withIndex`
 * adds a sixth column: the sample's index in `batch` (the staging table's `i`).
 */
export function encodeSamples(
  batch: readonly SpooledSample[],
  tagIds: ArrayLike<number>,
  withIndex = false,
): Buffer {
  let size = signature.length + 8 + 2;
  const perRow = fixedRowBytes + (withIndex ? 8 : 0);
  for (const sample of batch) {
    size += perRow + (sample.reason === undefined ? 0 : Buffer.byteLength(sample.reason, "utf8"));
  }
  const out = Buffer.allocUnsafe(size);
  signature.copy(out, 0);
  let at = signature.length;
  at = out.writeInt32BE(0, at); // flags
  at = out.writeInt32BE(0, at); // header extension length
  const fields = withIndex ? 6 : 5;
  for (let i = 0; i < batch.length; i++) {
    const sample = batch[i] as SpooledSample;
    at = out.writeInt16BE(fields, at);
    // int8 as two int32 halves: the high half floors, so negative times (before 2000) stay exact.
    const micros = postgresMicros(sample.time);
    const high = Math.floor(micros / twoTo32);
    at = out.writeInt32BE(8, at);
    at = out.writeInt32BE(high, at);
    at = out.writeUInt32BE(micros - high * twoTo32, at);
    at = out.writeInt32BE(4, at);
    at = out.writeInt32BE(tagIds[i] as number, at);
    const value = storedValue(sample.value);
    if (value === null) {
      at = out.writeInt32BE(-1, at);
    } else {
      at = out.writeInt32BE(8, at);
      at = out.writeDoubleBE(value, at);
    }
    at = out.writeInt32BE(2, at);
    at = out.writeInt16BE(sample.quality === "good" ? 0 : 1, at);
    if (sample.reason === undefined) {
      at = out.writeInt32BE(-1, at);
    } else {
      const length = out.write(sample.reason, at + 4, "utf8");
      out.writeInt32BE(length, at);
      at += 4 + length;
    }
    if (withIndex) {
      at = out.writeInt32BE(4, at);
      at = out.writeInt32BE(i, at);
    }
  }
  at = out.writeInt16BE(-1, at); // trailer
  return at === size ? out : out.subarray(0, at);
}
