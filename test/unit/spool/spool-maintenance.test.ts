/**
 * What an operator does with dead letters while the plant is stopped: replay them as new pending
 * samples, purge them, and read the spool's figures — each refused while a plant has it open.
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { reasonClass } from "../../../adapters/spool/dead-letter-filter.ts";
import {
  type MaintenanceOptions,
  purgeDeadLetters,
  replayDeadLetters,
} from "../../../adapters/spool/spool-maintenance.ts";
import { openSpoolReader } from "../../../adapters/spool/spool-report.ts";
import { openSpool, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir, t0 } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let path: string;
let options: MaintenanceOptions;

function plant(maxSamples = 100): SqliteSpool {
  return openSpool({ path, sinks: ["postgres"], maxSamples, synchronous: "OFF", log: silentLog() });
}

const s = (tag: string, k: number, value: Sample["value"] = k): Sample => ({
  tag,
  time: t0 + k * 1000,
  value,
  quality: "good",
});

/**
 * A stopped plant's spool: 3 samples refused by postgres for a CHECK (A.x at 1, 2, 3), one for a
 * range (A.y at 1), one conflict (A.x at 4), one sample still pending (A.x at 4, value 4).
 */
function preparedSpool(): void {
  const p = plant();
  p.append([s("A.x", 1), s("A.x", 2), s("A.x", 3), s("A.y", 1)]);
  const batch = p.readBatch("postgres", 10);
  p.deadLetter(
    "postgres",
    batch.slice(0, 3),
    'refused (SQLSTATE 23514): violates check constraint "c" (Failing row contains (1, 2))',
  );
  p.deadLetter("postgres", batch.slice(3), "refused (SQLSTATE 22003): numeric field overflow");
  p.append([s("A.x", 4)]);
  p.append([s("A.x", 4, 40)]);
  p.close();
}

beforeEach(() => {
  folder = makeTestDir("spool-maintenance");
  path = join(folder.dir, "spool.sqlite");
  options = { path, maxSamples: 100, synchronous: "OFF" };
  preparedSpool();
});
afterEach(() => folder.remove());

function report() {
  const reader = openSpoolReader(path);
  try {
    return reader.report();
  } finally {
    reader.close();
  }
}

describe("spool maintenance", () => {
  it("reports held and pending samples, counters, dead letters per sink and per reason", () => {
    const r = report();
    expect(r).toMatchObject({
      schemaVersion: 3,
      held: 1,
      sinks: [{ sink: "postgres", cursor: 4, pending: 1, oldest: t0 + 4000, newest: t0 + 4000 }],
      counters: { dropped: 0, duplicates: 0, conflicts: 1, deadLettered: 4, deadLettersReplayed: 0 },
      deadLetters: {
        held: 5,
        bySink: { postgres: 4, conflict: 1 },
        topReasons: [
          { reason: 'postgres: refused (SQLSTATE 23514): violates check constraint "c"', count: 3 },
          { reason: "conflict: the spool already held the tag and time with another value", count: 1 },
          { reason: "postgres: refused (SQLSTATE 22003): numeric field overflow", count: 1 },
        ],
      },
    });
    expect(r.owner).toBeUndefined();
    expect(r.fileBytes).toBeGreaterThan(0);
  });

  it("replays the matching dead letters as new pending samples, oldest first, in one go", () => {
    // (seq 6 went to the conflict's insert, which SQLite ignored: numbers only grow, with gaps.)
    const outcome = replayDeadLetters(options, { reasonContains: "23514", tag: "A.x" });
    expect(outcome).toEqual({
      replayed: 3,
      firstSeq: 7,
      lastSeq: 9,
      stillHeld: 0,
      noRoom: 0,
      conflictsLeft: 0,
    });
    const p = plant();
    try {
      expect(p.stats()).toMatchObject({ held: 4, pending: { postgres: 4 }, deadLetters: 2 });
      expect(p.readBatch("postgres", 10).map((b) => [b.seq, b.tag, b.value])).toEqual([
        [5, "A.x", 4],
        [7, "A.x", 1],
        [8, "A.x", 2],
        [9, "A.x", 3],
      ]);
      expect(p.readDeadLetters("postgres", 10).map((l) => l.tag)).toEqual(["A.y"]);
    } finally {
      p.close();
    }
    expect(report().counters.deadLettersReplayed).toBe(3);
  });

  it("leaves conflicts out unless named, and leaves what the spool still holds or has no room for", () => {
    // The conflict's tag and time are still held (pending): it stays (its ignored insert used seq 7).
    expect(replayDeadLetters(options, { sink: "conflict" })).toMatchObject({ replayed: 0, stillHeld: 1 });
    // Room for one more sample only: the oldest matching one goes back, the rest stay.
    const tight = { ...options, maxSamples: 2 };
    expect(replayDeadLetters(tight, {})).toEqual({
      replayed: 1,
      firstSeq: 8,
      lastSeq: 8,
      stillHeld: 0,
      noRoom: 3,
      conflictsLeft: 1,
    });
    expect(report().deadLetters.bySink).toEqual({ postgres: 3, conflict: 1 });
  });

  it("purges the matching dead letters (conflicts too) and counts them", () => {
    expect(purgeDeadLetters(options, { sink: "postgres", reasonContains: "22003" })).toBe(1);
    expect(purgeDeadLetters(options, { tag: "nobody" })).toBe(0);
    expect(purgeDeadLetters(options, {})).toBe(4);
    const r = report();
    expect(r.deadLetters.held).toBe(0);
    expect(r.counters).toMatchObject({ deadLettersPurged: 5, deadLettered: 4, conflicts: 1 });
    expect(r.held).toBe(1);
  });

  it("refuses to replay or purge while a plant has the spool open, and changes nothing", () => {
    const p = plant();
    try {
      for (const change of [() => replayDeadLetters(options, {}), () => purgeDeadLetters(options, {})]) {
        let caught: unknown;
        try {
          change();
        } catch (e) {
          caught = e;
        }
        expect(isPlantbridgeError(caught, ErrorCode.SPOOL)).toBe(true);
        expect(String((caught as Error).message)).toContain(`in use by process ${process.pid} (plant`);
      }
      // Reading is fine while it runs.
      expect(report()).toMatchObject({
        owner: { pid: process.pid, role: "plant" },
        deadLetters: { held: 5 },
      });
    } finally {
      p.close();
    }
  });

  it("names reasons without their row-specific detail", () => {
    expect(
      reasonClass("postgres", 'refused (SQLSTATE 23514): check "c" (Failing row contains (1, 2, 3.5))'),
    ).toBe('refused (SQLSTATE 23514): check "c"');
    expect(reasonClass("postgres", "refused (SQLSTATE 22008)")).toBe("refused (SQLSTATE 22008)");
    expect(reasonClass("postgres", "timestamp out of range")).toBe("timestamp out of range");
    expect(reasonClass("conflict", "conflict: spool already holds A.x at … with 1 (new 2)")).toBe(
      "the spool already held the tag and time with another value",
    );
  });
});
