import { describe, expect, it } from "vitest";
import { delayUntil, firstAlignedSlot, planNextSlot } from "../../../machines/schedule.ts";

describe("planNextSlot", () => {
  it.each([
    // [dueAt, period, now, nextDueAt, overruns]
    [2000, 1000, 1500, 2000, 0],
    [2000, 1000, 2000, 2000, 0],
    [2000, 1000, 2001, 3000, 1],
    [2000, 1000, 3000, 3000, 1],
    [2000, 1000, 3500, 4000, 2],
    [2000, 1000, 12_000, 12_000, 10],
    [0, 10_000, 25_000, 30_000, 3],
  ])("due %i, period %i, now %i → next %i with %i overrun(s)", (dueAt, period, now, next, overruns) => {
    expect(planNextSlot(dueAt, period, now)).toEqual({ nextDueAt: next, overruns });
  });
});

describe("firstAlignedSlot", () => {
  it.each([
    [0, 10_000, 10_000],
    [1, 10_000, 10_000],
    [9_999, 10_000, 10_000],
    [10_000, 10_000, 20_000],
    [1_700_000_003_217, 10_000, 1_700_000_010_000],
  ])("now %i, period %i → %i", (now, period, expected) => {
    expect(firstAlignedSlot(now, period)).toBe(expected);
  });
});

describe("delayUntil", () => {
  it("is never negative", () => {
    expect(delayUntil(1000, 400)).toBe(600);
    expect(delayUntil(1000, 1000)).toBe(0);
    expect(delayUntil(1000, 1500)).toBe(0);
  });
});
