import { describe, expect, it } from "vitest";
import type { ServedRead } from "../../../simulators/pemel/index.ts";
import {
  accountPemel,
  accountServedReads,
  expectedRecord,
  type StoredRecord,
} from "../../support/served-reads.ts";

/** The accounting the plant tests rely on, held against hand-made histories of a busy machine. */

const period = 500;
const cut = "PEMEL did not answer within the storage deadline (400 ms)";

function read(time: number, power: number): ServedRead {
  const values = Array.from({ length: 18 }, (_, k) => (k === 4 ? power : k));
  return { time, area: "holding", address: 0x8061, count: 18, values };
}

function good(r: ServedRead): StoredRecord {
  return new Map([...expectedRecord(r)].map(([tag, value]) => [tag, { value, quality: 0, reason: null }]));
}

function bad(reason: string): StoredRecord {
  const tags = [...expectedRecord(read(0, 0)).keys()];
  return new Map(tags.map((tag) => [tag, { value: null, quality: 2, reason }]));
}

describe("served reads against stored PEMEL records", () => {
  it("pairs each good record with its read; a cut cycle's read served in the next window is answered too late", () => {
    const r1 = read(1_010, 1);
    // cycle 1500 gave up on PEMEL at its deadline; the read was served at 2003, in cycle 2000's
    // window, just before that cycle's own read
    const late = read(2_003, 2);
    const r3 = read(2_030, 3);
    const cycles: [number, StoredRecord][] = [
      [1_000, good(r1)],
      [1_500, bad(cut)],
      [2_000, good(r3)],
    ];
    const account = accountServedReads(cycles, [r1, late, r3]);
    expect(account.paired.map((p) => p.read)).toEqual([r1, r3]);
    expect(account.unexplainedRecords).toEqual([]);
    expect(account.answeredTooLate).toEqual([{ read: late, cycle: 1_500 }]);
    expect(account.unexplainedReads).toEqual([]);
    // a read served before any late cycle: reported
    const stray = read(1_020, 9);
    expect(accountServedReads(cycles, [r1, stray, late, r3]).unexplainedReads).toEqual([stray]);
  });

  it("reports a good record that holds none of the reads served in its window", () => {
    const account = accountServedReads([[1_000, good(read(0, 7))]], [read(1_010, 8)]);
    expect(account.unexplainedRecords).toEqual([
      expect.stringMatching(
        /^good PEMEL record at 1000 holds none of the 1 reads .*el_power_act stored 7, served 8/,
      ),
    ]);
    expect(account.unexplainedReads).toHaveLength(1);
  });

  it("a read served before a cut cycle, or for a cycle bad for another reason, is not explained", () => {
    const early = read(990, 1);
    const account = accountServedReads(
      [
        [1_000, bad(cut)],
        [1_500, bad("unit PEMEL not connected")],
      ],
      [early, read(1_600, 2), read(1_700, 3)],
    );
    expect(account.answeredTooLate.map((l) => l.read.time)).toEqual([1_600]);
    expect(account.unexplainedReads.map((r) => r.time)).toEqual([990, 1_700]);
  });

  it("classifies bad cycles: start of a run, deadline cut, anything else", () => {
    const r = (t: number) => read(t + 5, t);
    const account = accountPemel(
      [
        [1_000, bad("unit PEMEL not connected")],
        [1_500, good(r(1_500))],
        [2_000, bad(cut)],
        [2_500, bad("socket closed")],
        [4_000, bad("unit PEMEL not connected")], // after a hole: a new run's start
        [4_500, good(r(4_500))],
        [5_500, bad(cut)], // after a hole too, but a deadline cut all the same
      ],
      [r(1_500), r(2_000), r(4_500), r(5_500)],
      period,
    );
    expect(account.good).toEqual([1_500, 4_500]);
    expect(account.startupBad).toEqual([1_000, 4_000]);
    expect(account.deadlineCuts).toEqual([2_000, 5_500]);
    expect(account.otherBad).toEqual(["PEMEL bad at 2500: socket closed"]);
    expect(account.answeredTooLate.map((l) => l.cycle)).toEqual([2_000, 5_500]);
    expect(account.unexplainedReads).toEqual([]);
  });
});
