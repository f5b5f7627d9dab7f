/**
 * Nothing in the spool file grows without bound: dead letters stop at maxDeadLetters (the oldest
 * go, counted in `meta`, logged at warn, in the stats), `meta` holds a fixed set of counters,
 * `cursors` only the configured sinks, and the WAL file is cut back after a large commit.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpool, type SpoolOptions, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { readSpoolFile } from "../../support/historian-faults.ts";
import { cycle, makeTestDir, recordingLog, t0 } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let path: string;
const open: SqliteSpool[] = [];

function spool(overrides: Partial<SpoolOptions> = {}): SqliteSpool {
  const s = openSpool({
    path,
    sinks: ["postgres"],
    maxSamples: 1000,
    synchronous: "OFF",
    log: silentLog(),
    ...overrides,
  });
  open.push(s);
  return s;
}

function closeAll(): void {
  for (const s of open.splice(0)) s.close();
}

function rows(sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

beforeEach(() => {
  folder = makeTestDir("spool-bounded");
  path = join(folder.dir, "spool.sqlite");
});

afterEach(() => {
  closeAll();
  folder.remove();
});

describe("sqlite spool bounds", () => {
  it("drops the oldest dead letters past maxDeadLetters: counted, logged, in the stats and in meta", () => {
    const { log, lines } = recordingLog();
    const s = spool({ maxDeadLetters: 4, log });
    for (let i = 0; i < 5; i++) s.append(cycle(i));
    s.deadLetter("postgres", s.readBatch("postgres", 3), "refused A");
    expect(s.stats()).toMatchObject({ deadLetters: 3, deadLettersDropped: 0, deadLettered: 3 });
    s.deadLetter("postgres", s.readBatch("postgres", 4), "refused B");
    expect(s.stats()).toMatchObject({ deadLetters: 4, deadLettersDropped: 3, deadLettered: 7 });
    // The newest four stay, oldest first.
    expect(s.readDeadLetters("postgres", 10).map((l) => [l.seq, l.error])).toEqual([
      [4, "refused B"],
      [5, "refused B"],
      [6, "refused B"],
      [7, "refused B"],
    ]);
    const warnings = lines.filter((l) => l.level === 40 && String(l.msg).startsWith("dead letters full"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      deadLettersDropped: 3,
      deadLettersDroppedTotal: 3,
      maxDeadLetters: 4,
    });
    expect(rows("SELECT count(*) AS n FROM dead_letters")[0]?.n).toBe(4);
    expect(rows("SELECT value FROM meta WHERE key = 'deadLettersDropped'")[0]?.value).toBe(3);
    // More refused than the bound at once: the newest of them stay.
    s.deadLetter("postgres", s.readBatch("postgres", 6), "refused C");
    expect(s.stats()).toMatchObject({ deadLetters: 4, deadLettersDropped: 9 });
    expect(s.readDeadLetters("postgres", 10).map((l) => l.seq)).toEqual([10, 11, 12, 13]);
  });

  it("counts conflicts against the same bound and keeps the counts across a reopen", () => {
    const s = spool({ maxDeadLetters: 2 });
    const at = (v: number): Sample => ({ tag: "PEMEL.x", time: t0, value: v, quality: "good" });
    s.append([at(1)]);
    s.append([at(2)]);
    s.append([at(3)]);
    s.append([at(4)]);
    expect(s.stats()).toMatchObject({ conflicts: 3, deadLetters: 2, deadLettersDropped: 1 });
    expect(s.readDeadLetters("conflict", 10).map((l) => l.value)).toEqual([3, 4]);
    const before = s.stats();
    closeAll();
    const again = spool({ maxDeadLetters: 2 });
    expect(again.stats()).toEqual(before);
    expect(readSpoolFile(path)).toMatchObject({ deadLettered: 0 });
  });

  it("refuses a bound that is no whole number >= 1, and the sink name reserved for conflicts", () => {
    for (const bad of [0, -1, 1.5]) {
      let caught: unknown;
      try {
        spool({ maxDeadLetters: bad });
      } catch (e) {
        caught = e;
      }
      expect(isPlantbridgeError(caught, ErrorCode.SPOOL), `maxDeadLetters ${bad}`).toBe(true);
    }
    expect(() => spool({ sinks: ["postgres", "conflict"] })).toThrow(/names the spool's conflicts/);
  });

  it("keeps a fixed set of meta counters and forgets the cursors of sinks no longer configured", () => {
    const first = spool({ sinks: ["postgres", "mqtt", "archive"] });
    first.append(cycle(0));
    closeAll();
    const second = spool({ sinks: ["postgres"] });
    second.append(cycle(1));
    closeAll();
    expect(rows("SELECT sink FROM cursors ORDER BY sink")).toEqual([{ sink: "postgres" }]);
    expect(rows("SELECT key FROM meta ORDER BY key").map((r) => r.key)).toEqual([
      "conflicts",
      "deadLettered",
      "deadLettersDropped",
      "deadLettersPurged",
      "deadLettersReplayed",
      "dropped",
      "duplicates",
      "schemaVersion",
    ]);
  });

  it("cuts the WAL file back to 8 MiB after a commit larger than that", () => {
    const s = spool({ maxSamples: 1_000_000 });
    const big: Sample[] = Array.from({ length: 150_000 }, (_, i) => ({
      tag: `PEMEL.t${i % 50}`,
      time: t0 + Math.floor(i / 50) * 1000,
      value: i,
      quality: "good",
      reason: "x".repeat(40),
    }));
    s.append(big);
    const grown = statSync(`${path}-wal`).size;
    expect(grown).toBeGreaterThan(8 * 1024 * 1024);
    // The commit after a checkpoint starts the WAL over and truncates it to the limit.
    s.append(cycle(1_000_000));
    s.append(cycle(1_000_001));
    expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(8 * 1024 * 1024);
  });
});
