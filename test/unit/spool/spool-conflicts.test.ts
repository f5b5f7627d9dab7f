/**
 * A second sample with a tag and time the spool holds: the same value and quality is a counted
 * duplicate (a re-run cycle is a no-op); another value is a conflict (the wall clock stepped back
 * and a cycle time came round again), kept as a dead letter under the `conflict` sink with both
 * values in its reason, counted and logged at warn — never dropped.
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpool, type SpoolOptions, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir, recordingLog } from "./spool-kit.ts";

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

beforeEach(() => {
  folder = makeTestDir("spool-conflicts");
  path = join(folder.dir, "spool.sqlite");
});

afterEach(() => {
  closeAll();
  folder.remove();
});

const at = Date.UTC(2026, 2, 29, 1, 30);
const sample = (tag: string, value: Sample["value"], extra: Partial<Sample> = {}): Sample => ({
  tag,
  time: at,
  value,
  quality: "good",
  ...extra,
});

describe("sqlite spool: the same tag and time again", () => {
  it("counts the same value and quality as a duplicate and keeps nothing twice", () => {
    const s = spool();
    const cycle = [
      sample("PEMEL.el_current_act", 12),
      sample("PEMEL.valve", true),
      sample("METH.real_temperature", Number.NaN),
      sample("METH.real_pressure", null, { quality: "bad", reason: "BadNodeIdUnknown" }),
    ];
    s.append(cycle);
    // A re-run cycle; the bad sample's reason may differ: it is the same failed read.
    s.append(cycle.map((c) => (c.quality === "bad" ? { ...c, reason: "Timeout after 1000 ms" } : c)));
    expect(s.stats()).toMatchObject({ held: 4, duplicates: 4, conflicts: 0, deadLetters: 0 });
    expect(s.readDeadLetters("conflict", 10)).toEqual([]);
  });

  it("keeps a sample with another value as a conflict dead letter, counted and logged at warn", () => {
    const { log, lines } = recordingLog();
    const s = spool({ log });
    s.append([sample("PEMEL.x", 12), sample("PEMEL.y", 1)]);
    s.append([sample("PEMEL.x", 13), sample("PEMEL.y", 1)]);
    expect(s.stats()).toMatchObject({
      held: 2,
      pending: { postgres: 2 },
      duplicates: 1,
      conflicts: 1,
      deadLetters: 1,
      deadLettered: 0,
    });
    // The held sample stays what it was: a sink may have it already.
    expect(s.readBatch("postgres", 10).map((b) => [b.tag, b.value])).toEqual([
      ["PEMEL.x", 12],
      ["PEMEL.y", 1],
    ]);
    const [letter, ...more] = s.readDeadLetters("conflict", 10);
    expect(more).toEqual([]);
    expect(letter).toMatchObject({
      seq: null,
      sink: "conflict",
      tag: "PEMEL.x",
      time: at,
      value: 13,
      quality: "good",
      error: "conflict: spool already holds PEMEL.x at 2026-03-29T01:30:00.000Z with 12 (new 13)",
    });
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ conflicts: 1, conflictsTotal: 1, first: letter?.error });
  });

  it("tells a different quality, kind or NaN apart, and names bad values with their reason", () => {
    const s = spool();
    s.append([
      sample("A.bad", null, { quality: "bad", reason: "Timeout" }),
      sample("A.bool", true),
      sample("A.nan", Number.NaN),
      sample("A.zero", 0),
    ]);
    s.append([sample("A.bad", 5), sample("A.bool", 1), sample("A.nan", 0), sample("A.zero", false)]);
    expect(s.stats()).toMatchObject({ conflicts: 4, duplicates: 0 });
    expect(
      s.readDeadLetters("conflict", 10).map((l) => [l.tag, l.value, l.error.split(" with ")[1]]),
    ).toEqual([
      ["A.bad", 5, "null (bad: Timeout) (new 5)"],
      ["A.bool", 1, "true (new 1)"],
      ["A.nan", 0, "NaN (new 0)"],
      ["A.zero", false, "0 (new false)"],
    ]);
  });

  it("keeps the same conflict once: appended again it is a duplicate", () => {
    const s = spool();
    s.append([sample("PEMEL.x", 12)]);
    s.append([sample("PEMEL.x", 13)]);
    s.append([sample("PEMEL.x", 13), sample("PEMEL.x", 14)]);
    expect(s.stats()).toMatchObject({ held: 1, conflicts: 2, duplicates: 1, deadLetters: 2 });
    expect(s.readDeadLetters("conflict", 10).map((l) => l.value)).toEqual([13, 14]);
  });

  it("sorts out a clash inside one append like one across appends", () => {
    const s = spool();
    s.append([sample("PEMEL.x", 1), sample("PEMEL.x", 1), sample("PEMEL.x", 2)]);
    expect(s.stats()).toMatchObject({ held: 1, duplicates: 1, conflicts: 1 });
  });

  it("keeps the counts and the conflicts across close and reopen", () => {
    const first = spool();
    first.append([sample("PEMEL.x", 12)]);
    first.append([sample("PEMEL.x", 13)]);
    const before = first.stats();
    closeAll();
    const second = spool();
    expect(second.stats()).toEqual(before);
    second.append([sample("PEMEL.x", 13)]);
    expect(second.stats()).toMatchObject({ conflicts: 1, duplicates: 1, deadLetters: 1 });
  });

  it("a sample no longer held (delivered and gone) enters again as a new sample", () => {
    const s = spool();
    s.append([sample("PEMEL.x", 12)]);
    s.ack("postgres", s.readBatch("postgres", 10).at(-1)?.seq ?? 0);
    s.append([sample("PEMEL.x", 13)]);
    expect(s.stats()).toMatchObject({ held: 1, conflicts: 0, duplicates: 0 });
    expect(s.readBatch("postgres", 10).map((b) => b.value)).toEqual([13]);
  });
});
