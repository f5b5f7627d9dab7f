import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../lib/errors.ts";
import type { PemelSimulator } from "../../../simulators/pemel/index.ts";
import { pemelStatusBits, pemelTags, pemelValues } from "../../unit/modbus/fixtures.ts";
import { linkTo, outcome, startSimulator, type TestLink, unitFor } from "./harness.ts";

let sim: PemelSimulator;
const links: TestLink[] = [];
const allTags = pemelTags().map((t) => t.name);

function open(extra: Parameters<typeof unitFor>[1] = {}): TestLink {
  const l = linkTo(unitFor(sim, extra));
  links.push(l);
  return l;
}

beforeAll(async () => {
  sim = await startSimulator({ warmUpMs: 5000, timeConstantMs: 2000 });
});

afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.link.close()));
  sim.clearFaults();
});

afterAll(async () => {
  await sim.stop();
});

describe("Modbus link against the PEMEL simulator", () => {
  it("reads the reference tags with unit id 0: 16 status bits, 14 values, the set point, in 2 requests", async () => {
    const { link, lost } = open();
    await link.connect();
    const before = sim.served.readCount;
    const readings = await link.read(allTags);
    expect(sim.served.readCount - before).toBe(2);
    expect(sim.served.reads.slice(-2).map((r) => [r.address, r.count])).toEqual([
      [0x8006, 1],
      [0x8061, 18],
    ]);
    expect(readings.size).toBe(31);
    for (const [, r] of readings) {
      expect(r.quality).toBe("good");
      expect(typeof r.time).toBe("number");
    }
    const word = sim.state().statusWord;
    pemelStatusBits.forEach((name, bit) => {
      expect(readings.get(name)?.value).toBe(((word >> bit) & 1) === 1);
    });
    expect(readings.get("safety_ok")?.value).toBe(true);
    expect(readings.get("mode_automatic")?.value).toBe(true);
    const served = sim.served.reads.at(-1)?.values ?? [];
    pemelValues.forEach(([name], i) => {
      expect(readings.get(name)?.value).toBe(served[4 + i]);
    });
    expect(lost).toHaveLength(0);
  });

  it("writes the set point once (FC6) and the current follows after step()", async () => {
    const { link } = open();
    await link.connect();
    sim.step(5000);
    const writesBefore = sim.served.writeCount;
    await link.write("current_setpoint", 30);
    expect(sim.served.writeCount - writesBefore).toBe(1);
    expect(sim.served.writes.at(-1)).toMatchObject({ address: 0x8006, value: 30 });
    expect(sim.state().setpoint).toBe(30);

    sim.step(2000);
    const oneTau = await link.read(["current", "current_setpoint", "hydrogen_cooling_temperature_reached"]);
    expect(oneTau.get("current_setpoint")?.value).toBe(30);
    const afterOneTau = sim.state().current;
    expect(oneTau.get("current")?.value).toBe(Math.round(afterOneTau));
    expect(oneTau.get("hydrogen_cooling_temperature_reached")?.value).toBe(true);

    sim.step(20_000);
    const settled = await link.read(["current", "h2_flow", "power"]);
    expect(settled.get("current")?.value).toBe(30);
    expect(settled.get("h2_flow")?.value).toBe(11); // 10.7 Nl/min on the curve, served as an integer
    expect(settled.get("power")?.value).toBeGreaterThan(2000);

    await link.write("current_setpoint", 0);
    sim.step(30_000);
    expect((await link.read(["current"])).get("current")?.value).toBe(0);
  });

  it("reads a status bit as false before the warm-up and true after it", async () => {
    const fresh = await startSimulator({ warmUpMs: 5000 });
    const l = linkTo(unitFor(fresh));
    try {
      await l.link.connect();
      fresh.step(4000);
      expect(
        (await l.link.read(["hydrogen_cooling_temperature_reached"])).get(
          "hydrogen_cooling_temperature_reached",
        )?.value,
      ).toBe(false);
      fresh.step(1000);
      expect(
        (await l.link.read(["hydrogen_cooling_temperature_reached"])).get(
          "hydrogen_cooling_temperature_reached",
        )?.value,
      ).toBe(true);
    } finally {
      await l.link.close();
      await fresh.stop();
    }
  });

  it("a link with the wrong unit id gets bad quality (exception 11), not a value", async () => {
    const { link, lost } = open({ unitId: 1 });
    await link.connect();
    const readings = await link.read(["power"]);
    expect(readings.get("power")).toMatchObject({
      value: null,
      quality: "bad",
      reason: "Modbus exception 11 (gateway target device failed to respond)",
    });
    expect(lost).toHaveLength(0);
  });

  it("50 parallel reads all resolve with the right values, one transaction at a time", async () => {
    const { link } = open();
    await link.connect();
    await link.write("current_setpoint", 44);
    sim.step(30_000);
    const expectedCurrent = Math.round(sim.state().current);
    const before = sim.served.readCount;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        link.read(i % 2 === 0 ? allTags : ["current", "current_setpoint"]),
      ),
    );
    for (const readings of results) {
      expect(readings.get("current")).toMatchObject({ value: expectedCurrent, quality: "good" });
      expect(readings.get("current_setpoint")).toMatchObject({ value: 44, quality: "good" });
    }
    // 25 full reads of 2 requests, 25 reads of 2 requests (set point + values)
    expect(sim.served.readCount - before).toBe(100);
  });

  it("parallel reads and writes interleave through the queue without mixing replies", async () => {
    const { link } = open();
    await link.connect();
    const writes = [10, 20, 30, 40, 50];
    const work = writes.flatMap((value) => [
      link.write("current_setpoint", value),
      link.read(["current_setpoint"]),
    ]);
    const settled = await Promise.all(work);
    const readBack = settled.filter((r) => r instanceof Map).map((m) => m.get("current_setpoint")?.value);
    expect(readBack).toEqual(writes);
  });

  it("unknown tags reject with PB_ERR_UNKNOWN_TAG; a read before connect with PB_ERR_NOT_CONNECTED", async () => {
    const { link } = open();
    expect(await outcome(link.read(["power"]))).toBe(ErrorCode.NOT_CONNECTED);
    expect(await outcome(link.write("current_setpoint", 10))).toBe(ErrorCode.NOT_CONNECTED);
    await link.connect();
    expect(await outcome(link.read(["power", "no_such_tag"]))).toBe(ErrorCode.UNKNOWN_TAG);
  });

  it("connect to a port nobody listens on rejects with PB_ERR_MODBUS_OFFLINE", async () => {
    const other = await startSimulator();
    const port = other.port;
    await other.stop();
    const { link, lost } = open({ port });
    expect(await outcome(link.connect())).toBe(ErrorCode.MODBUS_OFFLINE);
    expect(lost).toHaveLength(0);
  });

  it("close() then connect() works again, and close() is quiet (no lost)", async () => {
    const { link, lost } = open();
    await link.connect();
    await link.close();
    expect(await outcome(link.read(["power"]))).toBe(ErrorCode.NOT_CONNECTED);
    await link.connect();
    expect((await link.read(["power"])).get("power")?.quality).toBe("good");
    await link.close();
    await link.close();
    expect(lost).toHaveLength(0);
  });
});

describe("connect refusals that never reach the network", () => {
  it("a port outside 0..65535 rejects with PB_ERR_MODBUS_OFFLINE, and the link can be retried", async () => {
    const { link } = open({ port: 70_000 });
    expect(await outcome(link.connect())).toBe(ErrorCode.MODBUS_OFFLINE);
    expect(await outcome(link.connect())).toBe(ErrorCode.MODBUS_OFFLINE);
  });
});
