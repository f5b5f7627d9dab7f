/**
 * The spool's tail in memory (spool-tail.ts) gives a sink exactly what a read of the file gives:
 * after every kind of change — new cycles, cycles that meet held samples (duplicates, conflicts),
 * the bound dropping the oldest samples, acks, dead letters — every read from the cursor or ahead
 * of it equals the same read made on the file by another connection.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeSample } from "../../../adapters/spool/spool-rows.ts";
import { sampleColumns } from "../../../adapters/spool/spool-statements.ts";
import { openSpool, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir, t0 } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let path: string;
let spool: SqliteSpool;
let file: DatabaseSync;

beforeEach(() => {
  folder = makeTestDir("spool-tail");
  path = join(folder.dir, "spool.sqlite");
  spool = openSpool({ path, sinks: ["postgres"], maxSamples: 400, synchronous: "NORMAL", log: silentLog() });
  file = new DatabaseSync(path, { readOnly: true });
});
afterEach(() => {
  file.close();
  spool.close();
  folder.remove();
});

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cycleAt(time: number, tags: number, pick: () => number): Sample[] {
  return Array.from({ length: tags }, (_, i): Sample => {
    const tag = `U.t${i}`;
    const r = pick();
    if (r < 0.1) return { tag, time, value: null, quality: "bad", reason: "timeout" };
    if (r < 0.3) return { tag, time, value: r < 0.2, quality: "good" };
    if (r < 0.32) return { tag, time, value: -0, quality: "good" };
    if (r < 0.34) return { tag, time, value: Number.NaN, quality: "good" };
    return { tag, time, value: Math.round(r * 1000) / 8, quality: "good" };
  });
}

function readFile(after: number, limit: number) {
  return file
    .prepare(`SELECT ${sampleColumns} FROM samples WHERE seq > ? ORDER BY seq LIMIT ?`)
    .all(after, limit)
    .map(decodeSample);
}

function cursorOf(): number {
  return Number(file.prepare("SELECT seq FROM cursors WHERE sink = 'postgres'").get()?.seq ?? 0);
}

describe("spool tail in memory", () => {
  it("every read equals the same read of the file, through appends, duplicates, conflicts, drops, acks and dead letters", () => {
    const pick = random(42);
    const cycles: Sample[][] = [];
    let last = 0;
    let checks = 0;
    for (let step = 0; step < 300; step++) {
      const r = pick();
      if (r < 0.5 || cycles.length === 0) {
        const cycle = cycleAt(t0 + cycles.length * 1000, 1 + Math.floor(pick() * 90), pick);
        cycles.push(cycle);
        last = spool.append(cycle);
      } else if (r < 0.6) {
        // A cycle met again: the same samples (duplicates), one with another value (a conflict), and new ones.
        const held = cycles.filter((c) => c.length > 0);
        const old = held[Math.floor(pick() * held.length)] as Sample[];
        const changed = { ...(old[0] as Sample), value: 99_999, quality: "good" as const };
        last = spool.append([...old.slice(1), changed, ...cycleAt(t0 + cycles.length * 1000, 3, pick)]);
        cycles.push([]);
      } else if (r < 0.85) {
        const cursor = cursorOf();
        if (last > cursor) spool.ack("postgres", cursor + 1 + Math.floor(pick() * (last - cursor)));
      } else {
        const batch = spool.readBatch("postgres", 5);
        if (batch.length > 0) spool.deadLetter("postgres", batch.slice(0, 2), "refused");
      }
      const cursor = cursorOf();
      for (const after of [cursor, cursor + Math.floor(pick() * (last - cursor + 1))]) {
        for (const limit of [1, 7, 1000]) {
          expect(spool.readBatch("postgres", limit, after)).toEqual(readFile(after, limit));
          checks++;
        }
      }
    }
    expect(checks).toBe(1800);
    expect(spool.stats().dropped).toBeGreaterThan(0);
    expect(spool.stats().duplicates).toBeGreaterThan(0);
    expect(spool.stats().conflicts).toBeGreaterThan(0);
  });

  it("past its limit (a sink that does not keep up) keeps the newest samples and reads stay exact", () => {
    const big = openSpool({
      path: join(folder.dir, "big.sqlite"),
      sinks: ["postgres"],
      maxSamples: 1_000_000,
      synchronous: "OFF",
      log: silentLog(),
    });
    const bigFile = new DatabaseSync(join(folder.dir, "big.sqlite"), { readOnly: true });
    try {
      const pick = random(7);
      let last = 0;
      for (let c = 0; c < 130; c++) last = big.append(cycleAt(t0 + c * 1000, 1000, pick));
      expect(last).toBe(130_000);
      const fromFile = (after: number, limit: number) =>
        bigFile
          .prepare(`SELECT ${sampleColumns} FROM samples WHERE seq > ? ORDER BY seq LIMIT ?`)
          .all(after, limit)
          .map(decodeSample);
      for (const after of [0, 60_000, 79_999, 80_000, 104_321, 129_000, 129_999, 130_000]) {
        expect(big.readBatch("postgres", 5000, after)).toEqual(fromFile(after, 5000));
      }
      big.ack("postgres", 120_000);
      expect(big.readBatch("postgres", 20_000)).toEqual(fromFile(120_000, 20_000));
    } finally {
      bigFile.close();
      big.close();
    }
  });
});
