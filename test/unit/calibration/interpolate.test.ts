import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type Curve, loadCurve, parseCurve } from "../../../calibration/curve.ts";
import { createLookup, interpolate, invert, segmentValue } from "../../../calibration/interpolate.ts";
import { applyRounding, roundHalfEven, roundHalfUp } from "../../../calibration/rounding.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";

const referenceFile = fileURLToPath(
  new URL("../../../calibration/pemel-current-h2flow.txt", import.meta.url),
);
const FLOW = 1;
const CURRENT = 0;

let curve: Curve;
beforeAll(async () => {
  curve = await loadCurve(referenceFile);
});

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("interpolate (H2 flow → current)", () => {
  it("gives each measured current at its measured flow, within rounding of the last bit", () => {
    for (const [current, flow] of curve.rows as [number, number][]) {
      expect(interpolate(curve, FLOW, CURRENT, flow)).toBeCloseTo(current, 12);
    }
  });

  it("reproduces the original's floating-point result, not the ideal one", () => {
    // 16.45 lies half-way between 16.3 (46 A) and 16.6 (47 A); the doubles give just below 46.5.
    expect(interpolate(curve, FLOW, CURRENT, 16.45)).toBe(46.49999999999999);
    expect(interpolate(curve, FLOW, CURRENT, 18.4)).toBe(52);
    expect(interpolate(curve, FLOW, CURRENT, 0)).toBe(0);
  });

  it("holds the end values outside the curve (no extrapolation)", () => {
    expect(interpolate(curve, FLOW, CURRENT, 25)).toBe(52);
    expect(interpolate(curve, FLOW, CURRENT, -3)).toBe(0);
  });

  it("takes the FIRST segment in file order at an inner point", () => {
    // 16.3 closes segment 47 A→46 A (rows 7, 8) and opens 46 A→45 A; the first one is used.
    const lookup = createLookup(curve, FLOW, CURRENT);
    const first = 47 + ((46 - 47) / (16.3 - 16.6)) * (16.3 - 16.6);
    expect(segmentValue(lookup, 16.3)).toBe(first);
    expect(segmentValue(lookup, 18.5)).toBeUndefined();
    expect(segmentValue(lookup, Number.NaN)).toBeUndefined();
  });

  it("gives the same values on the same curve written in ascending order (to the last few bits)", () => {
    const ascending = parseCurve(
      ["I;Q", ...[...curve.rows].reverse().map((r) => r.join(";"))].join("\n"),
      "ascending.txt",
    );
    fc.assert(
      fc.property(fc.double({ min: 0, max: 18.4, noNaN: true }), (flow) => {
        const a = interpolate(curve, FLOW, CURRENT, flow);
        const b = interpolate(ascending, FLOW, CURRENT, flow);
        expect(Math.abs(a - b)).toBeLessThan(1e-9);
      }),
    );
  });

  it("refuses NaN and ±Infinity with PB_ERR_BAD_INPUT", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const e = thrown(() => interpolate(curve, FLOW, CURRENT, bad));
      expect(isPlantbridgeError(e, ErrorCode.BAD_INPUT)).toBe(true);
    }
  });

  it("refuses to look up by a column that is not strictly monotonic", () => {
    const bumpy = parseCurve("I;Q\n0;0\n10;3\n20;2.9\n", "bumpy.txt");
    const e = thrown(() => interpolate(bumpy, 1, 0, 1));
    expect(isPlantbridgeError(e, ErrorCode.CALIBRATION)).toBe(true);
    expect((e as { origin: { line: number } }).origin.line).toBe(4);
  });

  it("refuses a column the curve does not have", () => {
    const e = thrown(() => interpolate(curve, FLOW, 5, 10));
    expect(isPlantbridgeError(e, ErrorCode.CALIBRATION)).toBe(true);
    expect(String((e as Error).message)).toMatch(/no column 5/);
  });
});

describe("invert (current → H2 flow, for the simulator)", () => {
  it("gives the measured flow at each measured current", () => {
    for (const [current, flow] of curve.rows as [number, number][]) {
      expect(invert(curve, FLOW, CURRENT, current)).toBeCloseTo(flow, 12);
    }
    expect(invert(curve, FLOW, CURRENT, 52)).toBe(18.4);
    expect(invert(curve, FLOW, CURRENT, 60)).toBe(18.4);
    expect(invert(curve, FLOW, CURRENT, -1)).toBe(0);
  });

  it("is the inverse of interpolate inside the curve", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 52, noNaN: true }), (current) => {
        const flow = invert(curve, FLOW, CURRENT, current);
        expect(interpolate(curve, FLOW, CURRENT, flow)).toBeCloseTo(current, 9);
      }),
    );
  });

  it("interpolates linearly between two points", () => {
    // Between 30 A (10.7) and 31 A (11.0).
    expect(invert(curve, FLOW, CURRENT, 30.5)).toBeCloseTo(10.85, 12);
  });
});

describe("rounding", () => {
  it("half-even is Python's round(): ties to the even integer", () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [8.5, 8],
      [9.5, 10],
      [46.5, 46],
      [47.5, 48],
      [-0.5, 0],
      [-1.5, -2],
      [-2.5, -2],
      [0.49999999999999994, 0],
      [46.49999999999999, 46],
      [46.50000000000001, 47],
      [2 ** 52 + 1, 2 ** 52 + 1],
      [2 ** 53, 2 ** 53],
    ];
    for (const [x, expected] of cases) expect(roundHalfEven(x)).toBe(expected);
    expect(Object.is(roundHalfEven(-0.4), 0)).toBe(true);
  });

  it("half-even never moves a value by more than a half, and a tie lands on an even integer", () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (x) => {
        const r = roundHalfEven(x);
        expect(Number.isInteger(r)).toBe(true);
        expect(Math.abs(r - x)).toBeLessThanOrEqual(0.5);
        if (Math.abs(r - x) === 0.5) expect(r % 2 === 0).toBe(true);
      }),
    );
  });

  it("half-up takes ties away from zero", () => {
    expect(roundHalfUp(2.5)).toBe(3);
    expect(roundHalfUp(-2.5)).toBe(-3);
    expect(roundHalfUp(0.49999999999999994)).toBe(0);
    expect(roundHalfUp(46.49999999999999)).toBe(46);
  });

  it("none keeps the value", () => {
    expect(applyRounding("none", 46.49999999999999)).toBe(46.49999999999999);
    expect(applyRounding("half-even", 46.5)).toBe(46);
    expect(applyRounding("half-up", 46.5)).toBe(47);
  });
});
