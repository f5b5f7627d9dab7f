import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpool, type SpoolOptions, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { cycle, makeTestDir, recordingLog, t0 } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let path: string;
const open: SqliteSpool[] = [];

function spool(overrides: Partial<SpoolOptions> = {}): SqliteSpool {
  const s = openSpool({
    path,
    sinks: ["postgres"],
    maxSamples: 10_000,
    synchronous: "NORMAL",
    log: silentLog(),
    ...overrides,
  });
  open.push(s);
  return s;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isPlantbridgeError(e) ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

beforeEach(() => {
  folder = makeTestDir("spool");
  path = join(folder.dir, "spool.sqlite");
});

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  folder.remove();
});

describe("sqlite spool", () => {
  it("hands samples out in append order with increasing sequence numbers", () => {
    const s = spool();
    const last1 = s.append(cycle(0));
    const last2 = s.append(cycle(1));
    expect(last1).toBe(3);
    expect(last2).toBe(6);
    const batch = s.readBatch("postgres", 100);
    expect(batch.map((b) => b.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(batch.map((b) => [b.tag, b.time])).toEqual([...cycle(0), ...cycle(1)].map((c) => [c.tag, c.time]));
    expect(s.readBatch("postgres", 2).map((b) => b.seq)).toEqual([1, 2]);
    expect(s.stats()).toMatchObject({ pending: { postgres: 6 }, held: 6, dropped: 0, deadLettered: 0 });
  });

  it("gives back numbers, booleans, nulls, bad quality with its reason, and NaN unchanged", () => {
    const s = spool();
    const samples: Sample[] = [
      { tag: "METH.temperature", time: t0, value: 37.25, quality: "good" },
      { tag: "METH.pressure", time: t0, value: -1.5, quality: "good" },
      { tag: "PEMEL.valve_on", time: t0, value: true, quality: "good" },
      { tag: "PEMEL.pump1_on", time: t0, value: false, quality: "good" },
      { tag: "PEMEL.power", time: t0, value: null, quality: "bad", reason: "Timeout after 1000 ms" },
      { tag: "METH.methane", time: t0, value: Number.NaN, quality: "good" },
      { tag: "METH.big", time: t0, value: 1e300, quality: "good" },
    ];
    s.append(samples);
    const back = s.readBatch("postgres", 10);
    expect(back.map(({ seq: _seq, ...rest }) => rest)).toEqual(samples);
    expect(typeof back[2]?.value).toBe("boolean");
    expect(back[4]).not.toHaveProperty("reason", undefined);
    expect(back[0]).not.toHaveProperty("reason");
  });

  it("keeps one delivery cursor per sink, independent of the others", () => {
    const s = spool({ sinks: ["postgres", "mqtt"] });
    s.append([...cycle(0), ...cycle(1)]);
    s.ack("postgres", 4);
    expect(s.readBatch("postgres", 10).map((b) => b.seq)).toEqual([5, 6]);
    expect(s.readBatch("mqtt", 10).map((b) => b.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.stats().pending).toEqual({ postgres: 2, mqtt: 6 });
    s.ack("mqtt", 1);
    expect(s.readBatch("mqtt", 1).map((b) => b.seq)).toEqual([2]);
  });

  it("tells the time of each sink's oldest unacknowledged sample, without touching its cursor", () => {
    const s = spool({ sinks: ["postgres", "mqtt"] });
    expect(s.oldestPendingTime("postgres")).toBeNull();
    s.append([...cycle(0), ...cycle(1)]);
    s.ack("postgres", 3);
    expect(s.oldestPendingTime("postgres")).toBe(t0 + 10_000);
    expect(s.oldestPendingTime("mqtt")).toBe(t0);
    expect(s.readBatch("postgres", 10).map((b) => b.seq)).toEqual([4, 5, 6]);
    s.ack("postgres", 6);
    expect(s.oldestPendingTime("postgres")).toBeNull();
  });

  it("deletes samples only when every sink has acked them", () => {
    const s = spool({ sinks: ["postgres", "mqtt"] });
    s.append([...cycle(0), ...cycle(1)]);
    s.ack("postgres", 6);
    expect(s.stats().held).toBe(6);
    s.ack("mqtt", 2);
    expect(s.stats().held).toBe(4);
    s.ack("mqtt", 6);
    expect(s.stats()).toMatchObject({ held: 0, pending: { postgres: 0, mqtt: 0 } });
    const raw = new DatabaseSync(path, { readOnly: true });
    try {
      expect(raw.prepare("SELECT count(*) AS n FROM samples").get()?.n).toBe(0);
    } finally {
      raw.close();
    }
  });

  it("never moves a cursor back and refuses acks of sequence numbers it never handed out", () => {
    const s = spool();
    s.append(cycle(0));
    s.ack("postgres", 3);
    s.ack("postgres", 1);
    expect(s.stats().pending.postgres).toBe(0);
    s.append(cycle(1));
    expect(s.readBatch("postgres", 10).map((b) => b.seq)).toEqual([4, 5, 6]);
    expect(codeOf(() => s.ack("postgres", 7))).toBe(ErrorCode.SPOOL);
    expect(codeOf(() => s.ack("postgres", 1.5))).toBe(ErrorCode.SPOOL);
  });

  it("keeps a sample appended twice (same tag and time) once and counts the duplicate", () => {
    const s = spool();
    const first = s.append(cycle(0));
    const again = s.append(cycle(0));
    expect(again).toBe(first);
    const mixed = s.append([...cycle(0), ...cycle(1)]);
    expect(s.stats()).toMatchObject({ held: 6, duplicates: 6 });
    // Sequence numbers only grow (an ignored duplicate may leave a gap).
    const seqs = s.readBatch("postgres", 10).map((b) => b.seq);
    expect(seqs.slice(0, 3)).toEqual([1, 2, 3]);
    expect(seqs[3]).toBeGreaterThan(3);
    expect(seqs.at(-1)).toBe(mixed);
    // The first one wins: a re-run cycle cannot rewrite what was already taken.
    s.append([{ tag: "METH.h2_demand", time: cycle(0)[0]!.time, value: 999, quality: "good" }]);
    expect(s.readBatch("postgres", 1)[0]?.value).toBe(10);
  });

  it("drops the oldest samples past maxSamples, counts them and logs one warning per append", () => {
    const { log, lines } = recordingLog();
    const s = spool({ maxSamples: 5, log, sinks: ["postgres", "mqtt"] });
    s.append(cycle(0));
    s.ack("postgres", 3);
    s.append([...cycle(1), ...cycle(2)]);
    expect(s.stats()).toMatchObject({ held: 5, dropped: 4, pending: { postgres: 5, mqtt: 5 } });
    expect(s.readBatch("postgres", 10).map((b) => b.seq)).toEqual([5, 6, 7, 8, 9]);
    expect(s.readBatch("mqtt", 10).map((b) => b.seq)).toEqual([5, 6, 7, 8, 9]);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ dropped: 4, droppedTotal: 4, maxSamples: 5 });
    s.append(cycle(3));
    expect(s.stats().dropped).toBe(7);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
  });

  it("keeps refused samples as dead letters, counts them and moves the cursor past them", () => {
    const s = spool();
    s.append([...cycle(0), ...cycle(1)]);
    s.ack("postgres", 3);
    const refused = s.readBatch("postgres", 2);
    s.deadLetter("postgres", refused, "PB_ERR_HISTORIAN_REJECTED: SQLSTATE 22008 timestamp out of range");
    s.deadLetter("postgres", refused, "the same again is kept once");
    expect(s.stats()).toMatchObject({ deadLettered: 2, held: 1, pending: { postgres: 1 } });
    expect(s.readBatch("postgres", 10).map((b) => b.seq)).toEqual([6]);
    const letters = s.readDeadLetters("postgres", 10);
    expect(letters.map((l) => ({ ...l, at: 0 }))).toEqual(
      refused.map((r, i) => ({
        ...r,
        id: i + 1,
        sink: "postgres",
        error: "PB_ERR_HISTORIAN_REJECTED: SQLSTATE 22008 timestamp out of range",
        at: 0,
      })),
    );
    expect(typeof letters[1]?.value).toBe("boolean");
  });

  it("keeps samples, cursors and counters across close and reopen", () => {
    const first = spool({ sinks: ["postgres", "mqtt"], maxSamples: 8 });
    first.append([...cycle(0), ...cycle(1), ...cycle(2)]);
    first.append(cycle(1));
    first.ack("postgres", 5);
    first.deadLetter("postgres", first.readBatch("postgres", 1), "refused");
    const before = first.stats();
    first.close();

    const second = spool({ sinks: ["postgres", "mqtt"], maxSamples: 8 });
    expect(second.stats()).toEqual(before);
    expect(before).toMatchObject({ held: 8, dropped: 1, duplicates: 3, deadLettered: 1 });
    expect(second.readBatch("postgres", 10).map((b) => b.seq)).toEqual([7, 8, 9]);
    expect(second.readBatch("mqtt", 10).map((b) => b.seq)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    // Sequence numbers are never reused, even after deletes and a reopen.
    const next = second.append(cycle(5));
    expect(next).toBeGreaterThan(9);
    expect(second.readBatch("mqtt", 10).map((b) => b.seq)).toEqual([5, 6, 7, 8, 9, next - 2, next - 1, next]);
  });

  it("starts a sink added to an existing spool at the beginning and forgets a removed sink for deletes", () => {
    const first = spool({ sinks: ["postgres", "mqtt"] });
    first.append(cycle(0));
    first.ack("postgres", 3);
    first.close();
    const second = spool({ sinks: ["postgres"] });
    expect(second.stats()).toMatchObject({ held: 0, pending: { postgres: 0 } });
    second.append(cycle(1));
    second.close();
    const third = spool({ sinks: ["postgres", "archive"] });
    expect(third.readBatch("archive", 10).map((b) => b.seq)).toEqual([4, 5, 6]);
  });

  it("refuses bad samples before anything is written, naming unit and tag", () => {
    const s = spool();
    const bad = [...cycle(0), { tag: "PEMEL.current", time: t0 + 0.5, value: 1, quality: "good" } as Sample];
    let caught: unknown;
    try {
      s.append(bad);
    } catch (e) {
      caught = e;
    }
    expect(isPlantbridgeError(caught, ErrorCode.BAD_INPUT)).toBe(true);
    expect(isPlantbridgeError(caught) && caught.origin).toEqual({ unit: "PEMEL", tag: "current" });
    expect(s.stats().held).toBe(0);
    const wrongValue = { tag: "PEMEL.current", time: t0, value: "5", quality: "good" } as unknown as Sample;
    expect(codeOf(() => s.append([wrongValue]))).toBe(ErrorCode.BAD_INPUT);
  });

  it("answers misuse with coded errors: unknown sink, bad limit, use after close, bad options", () => {
    const s = spool();
    expect(codeOf(() => s.readBatch("nobody", 1))).toBe(ErrorCode.SPOOL);
    expect(codeOf(() => s.ack("nobody", 0))).toBe(ErrorCode.SPOOL);
    expect(codeOf(() => s.readBatch("postgres", 0))).toBe(ErrorCode.SPOOL);
    s.close();
    expect(codeOf(() => s.append(cycle(0)))).toBe(ErrorCode.SPOOL);
    expect(codeOf(() => s.close())).toBeUndefined();
    expect(codeOf(() => spool({ sinks: [] }))).toBe(ErrorCode.SPOOL);
    expect(codeOf(() => spool({ sinks: ["a", "a"] }))).toBe(ErrorCode.SPOOL);
    expect(codeOf(() => spool({ maxSamples: 0 }))).toBe(ErrorCode.SPOOL);
    expect(codeOf(() => spool({ synchronous: "EXTRA" as "FULL" }))).toBe(ErrorCode.SPOOL);
  });

  it("runs in WAL mode at every synchronous level, readable by a second connection while open", () => {
    for (const level of ["OFF", "NORMAL", "FULL"] as const) {
      path = join(folder.dir, `spool-${level}.sqlite`);
      const s = spool({ synchronous: level });
      s.append(cycle(0));
      const raw = new DatabaseSync(path);
      try {
        expect(raw.prepare("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
        expect(raw.prepare("SELECT count(*) AS n FROM samples").get()?.n).toBe(3);
      } finally {
        raw.close();
      }
    }
  });
});
