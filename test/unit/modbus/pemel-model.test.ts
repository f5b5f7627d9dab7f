import { describe, expect, it } from "vitest";
import {
  initialPemelState,
  processRegisters,
  stepPemel,
  writePemelRegisters,
} from "../../../simulators/pemel/dynamics.ts";
import { loadFlowCurve, parseFlowCurve } from "../../../simulators/pemel/flow-curve.ts";
import { createFrameReader, exceptionReply, parseRequest } from "../../../simulators/pemel/mbap.ts";
import { pemelAddress, statusBit } from "../../../simulators/pemel/register-map.ts";
import { createServedLog } from "../../../simulators/pemel/served-log.ts";

const curve = await loadFlowCurve();
const params = { curve, warmUpMs: 5000, timeConstantMs: 2000 };

function run(setpoint: number, ms: number, sliceMs = 100) {
  const state = initialPemelState();
  state.setpoint = setpoint;
  for (let t = 0; t < ms; t += sliceMs) stepPemel(state, sliceMs, params);
  return state;
}

describe("PEMEL flow curve", () => {
  it("gives the measured points and interpolates between them", () => {
    expect(curve.flowAt(52)).toBeCloseTo(18.4, 12);
    expect(curve.flowAt(30)).toBeCloseTo(10.7, 12);
    expect(curve.flowAt(25.5)).toBeCloseTo((8.9 + 9.2) / 2, 12);
    expect(curve.flowAt(0)).toBe(0);
  });

  it("holds the end values outside the measured range", () => {
    expect(curve.flowAt(60)).toBeCloseTo(18.4, 12);
    expect(curve.flowAt(-3)).toBe(0);
  });

  it("reads any curve file in the same format", () => {
    const small = parseFlowCurve("Current;Flow\n10;4\n0;0\n");
    expect(small.flowAt(5)).toBe(2);
  });
});

describe("PEMEL dynamics", () => {
  it("current follows the set point with a first-order lag (63 % after one time constant)", () => {
    const state = run(40, 2000);
    expect(state.current).toBeCloseTo(40 * (1 - Math.exp(-1)), 6);
    const later = run(40, 40_000);
    expect(later.current).toBeCloseTo(40, 3);
  });

  it("clamps the set point to 0..52 A", () => {
    expect(run(60, 30_000).current).toBeCloseTo(52, 3);
    expect(run(60, 30_000).setpoint).toBe(60);
  });

  it("H2 flow is the curve at the actual current and the volume integrates it", () => {
    const state = run(30, 60_000);
    expect(state.h2Flow).toBeCloseTo(curve.flowAt(state.current), 12);
    // ~10.7 Nl/min for most of a minute, minus the ramp
    expect(state.h2Volume).toBeGreaterThan(9);
    expect(state.h2Volume).toBeLessThan(10.7);
  });

  it("power, pressure and temperatures rise with load", () => {
    const idle = run(0, 60_000);
    const full = run(52, 60_000);
    expect(idle.power).toBe(0);
    expect(full.power).toBeGreaterThan(4000);
    expect(full.power).toBeLessThan(6000);
    expect(full.h2Pressure).toBeGreaterThan(idle.h2Pressure);
    expect(full.inletTemperature).toBeGreaterThan(idle.inletTemperature);
    expect(full.outletTemperatures[4]).toBeGreaterThan(full.inletTemperature);
  });

  it("sets bit 10 (hydrogen cooling temperature reached) only after the warm-up", () => {
    const bit10 = 1 << statusBit.hydrogenCoolingTemperatureReached;
    expect(run(0, 4900).statusWord & bit10).toBe(0);
    expect(run(0, 5000).statusWord & bit10).toBe(bit10);
    const word = run(52, 6000).statusWord;
    for (const bit of [
      statusBit.modeAutomatic,
      statusBit.safetyOk,
      statusBit.hydrogenCoolingOn,
      statusBit.valveOn,
    ]) {
      expect(word & (1 << bit)).not.toBe(0);
    }
    expect(word & (1 << statusBit.error)).toBe(0);
  });

  it("serves whole uint16 registers at PEMEL's addresses", () => {
    const state = run(35, 10_000);
    const values = processRegisters(state);
    expect(values).toHaveLength(14);
    expect(values.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffff)).toBe(true);
    const holding = Buffer.alloc(0x10000 * 2);
    writePemelRegisters(state, holding);
    expect(holding.readUInt16BE(pemelAddress.status * 2)).toBe(state.statusWord);
    expect(holding.readUInt16BE((pemelAddress.processValues + 1) * 2)).toBe(Math.round(state.current));
  });

  it("is deterministic: the same steps give the same state", () => {
    expect(run(33, 7000)).toEqual(run(33, 7000));
  });
});

describe("MBAP framing", () => {
  const readFrame = (id: number, address: number, count: number, unit = 0, fc = 3) => {
    const b = Buffer.alloc(12);
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(0, 2);
    b.writeUInt16BE(6, 4);
    b.writeUInt8(unit, 6);
    b.writeUInt8(fc, 7);
    b.writeUInt16BE(address, 8);
    b.writeUInt16BE(count, 10);
    return b;
  };

  it("splits a stream into frames across and within chunks", () => {
    const reader = createFrameReader();
    const two = Buffer.concat([readFrame(1, 0x8061, 18), readFrame(2, 0x8006, 1)]);
    expect(reader.push(two.subarray(0, 5))).toEqual([]);
    const frames = reader.push(two.subarray(5));
    expect(frames === "corrupt" ? [] : frames.map((f) => f.transactionId)).toEqual([1, 2]);
  });

  it("reports a corrupt header", () => {
    const bad = readFrame(1, 0, 1);
    bad.writeUInt16BE(7, 2); // protocol id must be 0
    expect(createFrameReader().push(bad)).toBe("corrupt");
  });

  it("checks the protocol limits of a request", () => {
    const parse = (b: Buffer) => {
      const frames = createFrameReader().push(b);
      if (frames === "corrupt" || frames[0] === undefined) throw new Error("no frame");
      return parseRequest(frames[0]);
    };
    expect(parse(readFrame(1, 0x8061, 18))).toEqual({
      ok: true,
      scope: { access: "read", area: "holding", address: 0x8061, count: 18, values: [] },
    });
    expect(parse(readFrame(1, 0, 126))).toEqual({ ok: false, exceptionCode: 3 });
    expect(parse(readFrame(1, 0, 2000, 0, 1))).toMatchObject({ ok: true });
    expect(parse(readFrame(1, 65535, 2))).toEqual({ ok: false, exceptionCode: 2 });
    expect(parse(readFrame(1, 0, 1, 0, 43))).toEqual({ ok: false, exceptionCode: 1 });
  });

  it("builds exception replies with the request's transaction and unit id", () => {
    const frames = createFrameReader().push(readFrame(0x1234, 0, 1, 0, 3));
    if (frames === "corrupt" || frames[0] === undefined) throw new Error("no frame");
    expect([...exceptionReply(frames[0], 2)]).toEqual([0x12, 0x34, 0, 0, 0, 3, 0, 0x83, 2]);
  });
});

describe("served log", () => {
  it("keeps counts exact and the newest entries up to the cap", () => {
    const log = createServedLog(100);
    for (let i = 0; i < 250; i++) log.write({ time: i, address: 0x8006, value: i });
    expect(log.writeCount).toBe(250);
    expect(log.writes.length).toBeLessThanOrEqual(100);
    expect(log.writes.at(-1)?.value).toBe(249);
    log.clear();
    expect(log.writeCount).toBe(0);
    expect(log.writes).toHaveLength(0);
  });
});
