/**
 * Large storage cycles (hundreds of tags) go into the spool with multi-row INSERTs; a cycle that
 * meets a held (tag, time) anywhere in it is sorted out sample by sample instead, with the same
 * counts as ever: nothing inserted twice, seqs rising in append order, every value back unchanged.
 * (SQLite's AUTOINCREMENT uses up a seq for a row INSERT OR IGNORE ignored: seqs may have gaps,
 * never repeats.)
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpool, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir, t0 } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let spool: SqliteSpool;

beforeEach(() => {
  folder = makeTestDir("spool-bulk");
  spool = openSpool({
    path: join(folder.dir, "spool.sqlite"),
    sinks: ["postgres"],
    maxSamples: 1_000_000,
    synchronous: "NORMAL",
    log: silentLog(),
  });
});
afterEach(() => {
  spool.close();
  folder.remove();
});

/** `tags` samples at `time`: numbers, booleans, nulls with a reason, NaN and infinities among them. */
function bigCycle(time: number, tags: number, shift = 0): Sample[] {
  return Array.from({ length: tags }, (_, i): Sample => {
    const tag = `U${i % 7}.t${i}`;
    if (i % 50 === 3) return { tag, time, value: null, quality: "bad", reason: `timeout ${i}` };
    if (i % 5 === 1) return { tag, time, value: (i + shift) % 2 === 0, quality: "good" };
    if (i === 7) return { tag, time, value: Number.POSITIVE_INFINITY, quality: "good" };
    if (i === 8) return { tag, time, value: Number.NEGATIVE_INFINITY, quality: "good" };
    if (i === 9) return { tag, time, value: Number.NaN, quality: "good" };
    return { tag, time, value: (i + shift) / 8, quality: "good" };
  });
}

describe("spool append of large cycles", () => {
  it("stores every sample of a 1000-tag cycle once, in order, with consecutive seqs, values unchanged", () => {
    const first = bigCycle(t0, 1000);
    const second = bigCycle(t0 + 100, 1000);
    expect(spool.append(first)).toBe(1000);
    expect(spool.append(second)).toBe(2000);
    const read = spool.readBatch("postgres", 5000);
    expect(read.map((s) => s.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(read.map(({ seq: _, ...s }) => s)).toEqual([...first, ...second]);
    expect(spool.stats()).toMatchObject({
      held: 2000,
      duplicates: 0,
      conflicts: 0,
      pending: { postgres: 2000 },
    });
  });

  it("a cycle that repeats one held sample deep inside is sorted out sample by sample", () => {
    spool.append(bigCycle(t0, 1000));
    // The next cycle, plus one sample of the first cycle again (a duplicate) and one with another value (a conflict).
    const next = bigCycle(t0 + 100, 1000);
    const replayed = bigCycle(t0, 1000)[500] as Sample;
    const changed = { ...(bigCycle(t0, 1000)[600] as Sample), value: 12345 };
    const cycle = [...next.slice(0, 700), replayed, ...next.slice(700, 900), changed, ...next.slice(900)];
    const last = spool.append(cycle);
    const stats = spool.stats();
    expect(stats).toMatchObject({ held: 2000, duplicates: 1, conflicts: 1, pending: { postgres: 2000 } });
    const read = spool.readBatch("postgres", 5000);
    expect(read.slice(1000).map(({ seq: _, ...s }) => s)).toEqual(next);
    expect(read.at(-1)?.seq).toBe(last);
    const seqs = read.map((s) => s.seq);
    expect(seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number))).toBe(true);
    expect(spool.readDeadLetters("conflict", 10).map((d) => [d.tag, d.value])).toEqual([
      [changed.tag, 12345],
    ]);
  });

  it("a cycle appended twice is counted as duplicates; the next cycle goes on after it", () => {
    const cycle = bigCycle(t0, 300);
    expect(spool.append(cycle)).toBe(300);
    expect(spool.append(cycle)).toBe(300);
    expect(spool.stats()).toMatchObject({ held: 300, duplicates: 300 });
    const last = spool.append(bigCycle(t0 + 100, 300));
    const read = spool.readBatch("postgres", 1000);
    expect(read).toHaveLength(600);
    expect(read.at(-1)?.seq).toBe(last);
    expect((read[300] as { seq: number }).seq).toBeGreaterThan(300);
  });
});
