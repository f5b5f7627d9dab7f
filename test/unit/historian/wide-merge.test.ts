import { describe, expect, it } from "vitest";
import {
  assembleWide,
  mergeWide,
  type StoredCells,
  type WideNaming,
} from "../../../adapters/postgres/wide-merge.ts";
import type { SpooledSample } from "../../../adapters/types.ts";
import { ErrorCode } from "../../../lib/errors.ts";

const columns: Record<string, string> = { "METH.temperature": "temp", "PEMEL.ready": "ready" };
/** Keys are seconds: two sample times in the same second land on one row, like the repeated DST hour. */
const naming: WideNaming = {
  table: "public.pycomint",
  columnOf: (tag) => columns[tag],
  keyOf: (ms) => Math.floor(ms / 1000) * 1000,
  showKey: (key) => `key ${key}`,
};

let seq = 0;
function sample(tag: string, time: number, value: number | boolean | null): SpooledSample {
  return { tag, time, value, quality: value === null ? "bad" : "good", seq: ++seq };
}

function stored(entries: [number, Record<string, (number | null)[]>][]): StoredCells {
  return new Map(entries.map(([key, cells]) => [key, new Map(Object.entries(cells))]));
}

describe("wide rows", () => {
  it("assembles one row per key; within a batch the first value of a cell holds", () => {
    const { rows, conflicts } = assembleWide(
      [
        sample("METH.temperature", 1000, 37.5),
        sample("PEMEL.ready", 1000, true),
        sample("METH.temperature", 1500, 37.5),
        sample("METH.temperature", 1900, 38),
        sample("PEMEL.ready", 2000, null),
      ],
      naming,
    );
    expect([...rows.keys()]).toEqual([1000, 2000]);
    expect(rows.get(1000)?.get("temp")?.value).toBe(37.5);
    expect(rows.get(1000)?.get("ready")?.value).toBe(1);
    expect(rows.get(2000)?.get("ready")?.value).toBeNull();
    expect(conflicts.map((c) => c.sample.time)).toEqual([1900]);
    expect(conflicts[0]?.reason).toContain('already holds 37.5 in column "temp" at key 1000');
    expect(conflicts[0]?.reason).toContain("METH.temperature at 1970-01-01T00:00:01.900Z has 38 (good)");
  });

  it("lets a later good value fill a cell a bad one left empty in the same batch", () => {
    const { rows, conflicts } = assembleWide(
      [sample("METH.temperature", 1000, null), sample("METH.temperature", 1200, 36)],
      naming,
    );
    expect(rows.get(1000)?.get("temp")?.value).toBe(36);
    expect(conflicts).toEqual([]);
  });

  it("refuses a tag with no column, naming it", () => {
    expect(() => assembleWide([sample("METH.pressure", 1000, 1)], naming)).toThrow(
      expect.objectContaining({
        code: ErrorCode.HISTORIAN_REJECTED,
        origin: { unit: "METH", tag: "pressure" },
      }),
    );
  });

  it("inserts new times, fills NULL cells, skips replays, and never overwrites a stored value", () => {
    const { rows } = assembleWide(
      [
        sample("METH.temperature", 1000, 37.5), // stored 37.5: replay
        sample("PEMEL.ready", 1000, true), // stored NULL: fill
        sample("METH.temperature", 2000, 40), // stored 39: conflict
        sample("PEMEL.ready", 2000, null), // bad: never erases
        sample("METH.temperature", 3000, 41), // no row: insert
      ],
      naming,
    );
    const merge = mergeWide(
      rows,
      stored([
        [1000, { temp: [37.5], ready: [null] }],
        [2000, { temp: [39], ready: [1] }],
      ]),
      naming,
    );
    expect([...merge.inserts]).toEqual([[3000, new Map([["temp", 41]])]]);
    expect([...merge.fills]).toEqual([[1000, new Map([["ready", 1]])]]);
    expect(merge.conflicts.map((c) => [c.sample.time, c.sample.value])).toEqual([[2000, 40]]);
    expect(merge.conflicts[0]?.reason).toContain('already holds 39 in column "temp"');
  });

  it("with duplicate stored times: equal to any row is a replay, another value where one holds is a conflict", () => {
    const { rows } = assembleWide(
      [
        sample("METH.temperature", 1000, 38),
        sample("PEMEL.ready", 1000, false),
        sample("METH.temperature", 2000, 5),
      ],
      naming,
    );
    const merge = mergeWide(
      rows,
      stored([
        [1000, { temp: [37, 38], ready: [null, 1] }],
        [2000, { temp: [null, null] }],
      ]),
      naming,
    );
    expect(merge.inserts.size).toBe(0);
    expect(merge.conflicts.map((c) => c.sample.tag)).toEqual(["PEMEL.ready"]);
    expect([...merge.fills]).toEqual([[2000, new Map([["temp", 5]])]]);
  });
});
