import { describe, expect, it } from "vitest";
import { median, mergeFlat, percentile, ratioOf, variantOf } from "../../../bench/stats.ts";

describe("bench statistics", () => {
  it("percentiles interpolate between ranks of the sorted values", () => {
    const values = [40, 10, 30, 20, 50];
    expect(percentile(values, 0)).toBe(10);
    expect(percentile(values, 50)).toBe(30);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile(values, 25)).toBe(20);
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9, 10);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });

  it("a variant's figures are the medians of its repeats; a ratio divides them", () => {
    const fast = variantOf("merged", "plantbridge", [
      { "scans/s": 300 },
      { "scans/s": 100 },
      { "scans/s": 200 },
    ]);
    const slow = variantOf("per tag", "baseline", [{ "scans/s": 10 }, { "scans/s": 20 }, { "scans/s": 30 }]);
    expect(fast.figures["scans/s"]).toBe(200);
    expect(median([3, 1, 2])).toBe(2);
    expect(ratioOf("scans/s", fast, slow, "scans/s").value).toBe(10);
  });

  it("merges every stage's flat figures into one object and refuses a key two stages report", () => {
    expect(
      mergeFlat([
        {
          id: "historian-ingest",
          flat: { "ingest.samples_per_s": 120_000, "ingest.ratio_vs_copy_text": 0.9 },
        },
        { id: "control-latency" },
        {
          id: "end-to-end",
          flat: { "e2e.max_samples_per_s": 50_000, "e2e.held_lost": Number.POSITIVE_INFINITY },
        },
      ]),
    ).toEqual({
      "ingest.samples_per_s": 120_000,
      "ingest.ratio_vs_copy_text": 0.9,
      "e2e.max_samples_per_s": 50_000,
      "e2e.held_lost": Number.NaN,
    });
    expect(() =>
      mergeFlat([
        { id: "a", flat: { "x.y": 1 } },
        { id: "b", flat: { "x.y": 2 } },
      ]),
    ).toThrow(/b and a both report x\.y/);
  });
});
