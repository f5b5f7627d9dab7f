/**
 * The spool's tail in memory: the samples appended last, exactly as a read of the file would give
 * them back, so a sink that keeps up (the usual case) reads its next batch without SQLite reading
 * and decoding rows it wrote a moment ago. The file stays the truth: the tail only ever mirrors
 * committed rows and is changed after the commit that changed them.
 *
 * Invariant: the tail holds every sample the file holds with a seq from its first seq up to the
 * spool's last seq, in order, with consecutive seqs. It grows only by appends whose rows got
 * consecutive seqs right after the previous last seq (every sample new: spool-append.ts's common
 * case). Anything else — an append that met held samples (SQLite then skips seqs), the bound
 * dropping the oldest samples — empties it, and it starts again after the last seq. Acks trim its
 * front (the array is compacted only once most of it is gone); past `tailLimit` samples the older
 * half goes. A read starting before the tail goes to the file.
 */
import type { Sample, SpooledSample } from "../types.ts";

/**
 * Samples the tail keeps at most (a few batches: what a sink that keeps up reads next); past it,
 * the older half goes.
 */
export const tailLimit = 50_000;

export interface SpoolTail {
  /** Oldest first from `start` on (entries before it are gone); seqs consecutive. */
  samples: SpooledSample[];
  start: number;
}

export function emptyTail(): SpoolTail {
  return { samples: [], start: 0 };
}

/** Drops the first `count` held samples; the array is compacted only once most of it is dead. */
function dropFront(tail: SpoolTail, count: number): void {
  tail.start += count;
  if (tail.start >= tail.samples.length) {
    tail.samples = [];
    tail.start = 0;
  } else if (tail.start > tail.samples.length / 2) {
    tail.samples = tail.samples.slice(tail.start);
    tail.start = 0;
  }
}

/** A sample as the file gives it back: -0 is stored as 0, a missing reason is absent. */
function asRead(sample: Sample, seq: number): SpooledSample {
  const value = sample.value === 0 ? 0 : sample.value;
  const read: SpooledSample = { seq, tag: sample.tag, time: sample.time, value, quality: sample.quality };
  if (sample.reason !== undefined && sample.reason !== null) read.reason = sample.reason;
  return read;
}

/**
 * After the commit of an append of `samples` (`inserted` of them new) that moved the last seq from
 * `before` to `after`: kept when all of them got exactly the seqs before+1 .. after, else the
 * tail starts over.
 */
export function tailAppended(
  tail: SpoolTail,
  samples: readonly Sample[],
  inserted: number,
  before: number,
  after: number,
): void {
  // Every sample inserted (none met a held one, so SQLite skipped no seq) and no other seq used.
  if (inserted !== samples.length || after - before !== samples.length) {
    tailForget(tail);
    return;
  }
  const at = tail.samples.length;
  tail.samples.length = at + samples.length;
  for (let i = 0; i < samples.length; i++)
    tail.samples[at + i] = asRead(samples[i] as Sample, before + 1 + i);
  // Over the limit (a sink that does not keep up): keep the newest half, so the cut is rare.
  const held = tail.samples.length - tail.start;
  if (held > tailLimit) dropFront(tail, held - tailLimit / 2);
}

/** After samples left the file other than by an ack (the bound dropped them): start over. */
export function tailForget(tail: SpoolTail): void {
  tail.samples = [];
  tail.start = 0;
}

/** After every sink passed `seq` (the rows up to it left the file): trim the front. */
export function tailDelivered(tail: SpoolTail, seq: number): void {
  const first = tail.samples[tail.start]?.seq;
  if (first === undefined || seq < first) return;
  dropFront(tail, seq - first + 1);
}

/** Up to `limit` samples after `after` when the tail holds them all; undefined: read the file. */
export function tailRead(tail: SpoolTail, after: number, limit: number): SpooledSample[] | undefined {
  const first = tail.samples[tail.start]?.seq;
  if (first === undefined || after + 1 < first) return undefined;
  const from = tail.start + after + 1 - first;
  return tail.samples.slice(from, from + limit);
}
