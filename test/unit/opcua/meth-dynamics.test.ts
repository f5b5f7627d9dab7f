import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findMethVariable, methBrowseName, methNodeId } from "../../../simulators/meth/address-space.ts";
import { initialProcess, stepMeth } from "../../../simulators/meth/dynamics.ts";
import { defaultLoadProfile, demandAt, scaleLoadProfile } from "../../../simulators/meth/load-profile.ts";

/** Curve ends of the reference plant's calibration (PEMEL_Current_H2Flowrate.txt). */
const CURVE_TOP = 18.4;
const CURVE_LOW = 2.7;

describe("METH load profile", () => {
  it("starts at the first point, interpolates linearly and wraps around", () => {
    const p = {
      cycleMs: 100,
      points: [
        { atMs: 0, demand: 0 },
        { atMs: 50, demand: 10 },
      ],
    };
    expect(demandAt(p, 0)).toBe(0);
    expect(demandAt(p, 25)).toBe(5);
    expect(demandAt(p, 50)).toBe(10);
    expect(demandAt(p, 75)).toBe(5); // back down towards the first point
    expect(demandAt(p, 125)).toBe(5);
  });

  it("spends time above the curve's top and below its low end in one default cycle", () => {
    const samples: number[] = [];
    for (let t = 0; t < defaultLoadProfile.cycleMs; t += 1_000) samples.push(demandAt(defaultLoadProfile, t));
    expect(samples.filter((d) => d > CURVE_TOP).length).toBeGreaterThan(30);
    expect(samples.filter((d) => d < CURVE_LOW).length).toBeGreaterThan(30);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(20);
  });

  it("never goes negative, whatever the time", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 9 }), (t) => demandAt(defaultLoadProfile, t) >= 0));
  });

  it("plays the same shape faster when scaled", () => {
    const fast = scaleLoadProfile(defaultLoadProfile, 60_000);
    expect(fast.cycleMs).toBe(60_000);
    for (const f of [0.1, 0.45, 0.8]) {
      expect(demandAt(fast, 60_000 * f)).toBeCloseTo(demandAt(defaultLoadProfile, 600_000 * f), 9);
    }
  });
});

describe("METH dynamics", () => {
  it("settles to plausible values: methane ≈ demand / 4, 37–40 °C, 1–5 bar", () => {
    let p = initialProcess(0);
    for (let t = 0; t < 600_000; t += 1_000) p = stepMeth(p, 16, t, 1_000);
    expect(p.methaneProduction).toBeCloseTo(4, 1);
    expect(p.pressure).toBeGreaterThan(1);
    expect(p.pressure).toBeLessThan(5);
    expect(p.temperature).toBeGreaterThan(37);
    expect(p.temperature).toBeLessThan(40);
  });

  it("lags: one short step moves only part of the way", () => {
    const p0 = initialProcess(0);
    const p1 = stepMeth(p0, 20, 0, 1_000);
    expect(p1.methaneProduction).toBeGreaterThan(0);
    expect(p1.methaneProduction).toBeLessThan(1);
    expect(stepMeth(p0, 20, 0, 0)).toBe(p0);
  });

  it("stays in range for any load history", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 20, noNaN: true }), { maxLength: 50 }), (demands) => {
        let p = initialProcess(demands[0] ?? 0);
        demands.forEach((d, i) => {
          p = stepMeth(p, d, i * 5_000, 5_000);
        });
        return (
          p.temperature >= 37 &&
          p.temperature <= 40 &&
          p.pressure >= 1 &&
          p.pressure <= 5 &&
          p.methaneProduction >= 0
        );
      }),
    );
  });
});

describe("METH variables", () => {
  it("serves the reference plant's node ids at namespace index 7", () => {
    expect(methNodeId("h2Flowrate")).toBe("ns=7;s=::AsGlobalPV:real_h2_flowrate");
    expect(methNodeId("temperature")).toBe("ns=7;s=::AsGlobalPV:real_temperature");
    expect(methBrowseName("methaneProduction")).toBe("real_methane_production");
  });

  it("finds a variable by key, browse name, string id or node id", () => {
    for (const name of [
      "pressure",
      "real_pressure",
      "::AsGlobalPV:real_pressure",
      "ns=7;s=::AsGlobalPV:real_pressure",
      "nsu=urn:plantbridge:sim:meth;s=::AsGlobalPV:real_pressure",
    ]) {
      expect(findMethVariable(name), name).toBe("pressure");
    }
    expect(findMethVariable("real_nothing")).toBeUndefined();
  });
});
