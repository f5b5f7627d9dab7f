// Units behind one gateway on one shared connection (`connection: shared`), against the Modbus
// scale simulator in its gateway shape: a unit id that stops answering is that unit's problem.
import { afterEach, describe, expect, it } from "vitest";
import { createModbusLinks, type ModbusLinks } from "../../../adapters/modbus/modbus-links.ts";
import type { Reading, UnitLink } from "../../../adapters/types.ts";
import { ErrorCode, type PlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import type { DemotionConfig, ModbusUnitConfig } from "../../../schemas/plant-types.ts";
import {
  type ModbusScaleSimulator,
  type ScaleUnit,
  startModbusScaleSimulator,
  tickOf,
} from "../../../simulators/scale/index.ts";
import { tag } from "../../unit/modbus/fixtures.ts";
import { eventually, outcome } from "./harness.ts";

const registers = 20;

function unitOf(
  sim: ScaleUnit,
  o: { timeoutMs: number; demotion: DemotionConfig; connection?: "shared" | "separate" },
): ModbusUnitConfig {
  return {
    name: `U${sim.unitId}`,
    protocol: "modbus-tcp",
    host: sim.host,
    port: sim.port,
    unitId: sim.unitId,
    timeoutMs: o.timeoutMs,
    connection: o.connection ?? "shared",
    demotion: o.demotion,
    maxRegistersPerRequest: 125,
    maxGapRegisters: 10,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0, stableAfterMs: 5000 },
    tags: [
      ...Array.from({ length: registers }, (_, r) => tag(`r${r}`, r)),
      tag("setpoint", 0x0100, "uint16", { writable: { min: 0, max: 100 } }),
    ],
  };
}

const tagNames = Array.from({ length: registers }, (_, r) => `r${r}`);

interface Linked {
  link: UnitLink;
  unit: ModbusUnitConfig;
  lost: PlantbridgeError[];
}

/** Every reading good and equal to a value the simulator served to that unit id for that register. */
function expectServed(sim: ModbusScaleSimulator, unit: ScaleUnit, readings: Map<string, Reading>): void {
  for (const name of tagNames) {
    const reading = readings.get(name);
    expect(reading?.quality, `${name} of unit id ${unit.unitId}: ${reading?.reason}`).toBe("good");
    const register = Number(name.slice(1));
    const tick = tickOf(unit.index, register, reading?.value as number);
    expect(sim.served.servedAt(unit.unitId, register, tick), `${name} = ${reading?.value}`).toBe(true);
  }
}

function reasons(readings: Map<string, Reading>): string[] {
  return [...new Set([...readings.values()].map((r) => `${r.quality}: ${r.reason ?? ""}`))];
}

describe("units behind one gateway, one shared connection", () => {
  let sim: ModbusScaleSimulator | undefined;
  let links: Linked[] = [];

  afterEach(async () => {
    await Promise.allSettled(links.map((l) => l.link.close()));
    await sim?.stop();
    sim = undefined;
    links = [];
  });

  /**
   * The simulator with 3 units and a link to each. `timeoutMs` per unit: the units expected to
   * answer get a long one (a loaded machine never makes them time out), the silent ones a short one.
   */
  async function start(o: {
    timeoutMs: readonly [number, number, number];
    demotion: DemotionConfig;
    shape?: "gateway" | "devices";
    connection?: "shared" | "separate";
  }): Promise<{ sim: ModbusScaleSimulator; modbus: ModbusLinks; linked: Linked[] }> {
    const started = await startModbusScaleSimulator({
      units: 3,
      registers,
      shape: o.shape ?? "gateway",
      changeEveryMs: 50,
    });
    sim = started;
    const modbus = createModbusLinks({ log: silentLog() });
    links = started.units.map((u, i) => {
      const unit = unitOf(u, { ...o, timeoutMs: o.timeoutMs[i] ?? 2000 });
      const link = modbus.link(unit);
      const lost: PlantbridgeError[] = [];
      link.onLost((e) => lost.push(e));
      return { link, unit, lost };
    });
    return { sim: started, modbus, linked: links };
  }

  it("a unit id that never answers: the others read every value as served, on one connection; it is demoted", async () => {
    const { sim, modbus, linked } = await start({
      timeoutMs: [2000, 2000, 200],
      // long enough that no probe happens during the test, whatever the machine's load
      demotion: { after: 2, periodMs: 120_000, maxPeriodMs: 120_000 },
    });
    const [u1, u2, dead] = sim.units as [ScaleUnit, ScaleUnit, ScaleUnit];
    sim.setSilent(dead.unitId, true);
    await Promise.all(linked.map((l) => l.link.connect()));
    expect(sim.connections()).toBe(1);

    const deadReasons: string[][] = [];
    for (let round = 0; round < 12; round++) {
      const [r1, r2, r3] = await Promise.all(linked.map((l) => l.link.read(tagNames)));
      expectServed(sim, u1, r1 as Map<string, Reading>);
      expectServed(sim, u2, r2 as Map<string, Reading>);
      deadReasons.push(reasons(r3 as Map<string, Reading>));
    }
    expect(deadReasons.slice(0, 2)).toEqual([
      ["bad: no reply from unit id 3 within 200 ms"],
      ["bad: no reply from unit id 3 within 200 ms"],
    ]);
    for (const r of deadReasons.slice(2))
      expect(r).toEqual(["bad: demoted for 120 s after 2 timeouts in a row"]);
    // demoted: refused without sending, so the gateway saw exactly the two requests that timed out
    expect(sim.served.unit(dead.unitId)?.unanswered).toBe(2);
    expect(sim.connections()).toBe(1);
    for (const l of linked) expect(l.lost).toEqual([]);
    const member = modbus.gateways
      .get(`${u1.host}:${u1.port}`)
      ?.members.find((m) => m.unitId === dead.unitId);
    expect(member?.figures).toMatchObject({ unanswered: 2, demotions: 1, refused: 10 });
  });

  it("a demoted unit is probed after its period: a silent probe doubles the period, an answer restores it", async () => {
    const { sim, modbus, linked } = await start({
      timeoutMs: [2000, 2000, 150],
      demotion: { after: 1, periodMs: 300, maxPeriodMs: 5_000 },
    });
    const dead = sim.units[2] as ScaleUnit;
    const deadLink = linked[2] as Linked;
    const member = () =>
      modbus.gateways.get(`${dead.host}:${dead.port}`)?.members.find((m) => m.unitId === dead.unitId);
    sim.setSilent(dead.unitId, true);
    // another unit on the connection that answers: the silence is the unit's, not the gateway's
    await Promise.all([deadLink.link.connect(), linked[0]?.link.connect()]);
    expect(reasons(await deadLink.link.read(tagNames))).toEqual([
      "bad: no reply from unit id 3 within 150 ms",
    ]);
    expect(member()?.state).toMatchObject({ demotions: 1, periodMs: 300 });
    // the probe after 300 ms goes unanswered: demoted again for 600 ms
    await eventually(async () => {
      await deadLink.link.read(tagNames);
      return member()?.state.demotions === 2;
    }, 30_000);
    expect(member()?.state.periodMs).toBe(600);
    expect(sim.served.unit(dead.unitId)?.unanswered).toBe(2);
    sim.setSilent(dead.unitId, false);
    let last = new Map<string, Reading>();
    await eventually(async () => {
      last = await deadLink.link.read(tagNames);
      return last.get("r0")?.quality === "good";
    }, 30_000);
    expectServed(sim, dead, last);
    expect(member()?.state).toMatchObject({ demotions: 0, timeoutsInARow: 0, demotedUntil: null });
    expect(deadLink.lost).toEqual([]);
  });

  it("a reply that comes after its timeout is recognised by its transaction id and dropped; the connection goes on", async () => {
    const { sim, modbus, linked } = await start({
      timeoutMs: [2000, 150, 2000],
      demotion: { after: 3, periodMs: 10_000, maxPeriodMs: 10_000 },
    });
    const [u1, slow] = sim.units as [ScaleUnit, ScaleUnit];
    const [l1, slowLink] = linked as [Linked, Linked];
    await Promise.all([l1.link.connect(), slowLink.link.connect()]);
    sim.setReplyDelay(slow.unitId, 400);
    expect(reasons(await slowLink.link.read(tagNames))).toEqual([
      "bad: no reply from unit id 2 within 150 ms",
    ]);
    const member = modbus.gateways
      .get(`${u1.host}:${u1.port}`)
      ?.members.find((m) => m.unitId === slow.unitId);
    // the other unit reads while the late reply is on its way, and after it arrived
    while (member?.figures.lateReplies === 0) expectServed(sim, u1, await l1.link.read(tagNames));
    expectServed(sim, u1, await l1.link.read(tagNames));
    sim.setReplyDelay(slow.unitId, 0);
    expectServed(sim, slow, await slowLink.link.read(tagNames));
    expect(member?.figures.lateReplies).toBe(1);
    expect(sim.connections()).toBe(1);
    for (const l of linked) expect(l.lost).toEqual([]);
  });

  it("the gateway dropping the connection is a lost link for every unit on it, once; they share a new one", async () => {
    const { sim, linked } = await start({
      timeoutMs: [2000, 2000, 2000],
      demotion: { after: 3, periodMs: 10_000, maxPeriodMs: 10_000 },
    });
    await Promise.all(linked.map((l) => l.link.connect()));
    sim.dropConnections();
    await eventually(() => linked.every((l) => l.lost.length === 1));
    for (const l of linked) {
      expect(l.lost[0]?.code).toBe(ErrorCode.LINK_LOST);
      expect(l.lost[0]?.origin.unit).toBe(l.unit.name);
      expect(await outcome(l.link.read(tagNames))).toBe(ErrorCode.NOT_CONNECTED);
    }
    for (const l of linked) await l.link.close();
    await Promise.all(linked.map((l) => l.link.connect()));
    expect(sim.connections()).toBe(1);
    for (const [i, l] of linked.entries())
      expectServed(sim, sim.units[i] as ScaleUnit, await l.link.read(tagNames));
    for (const l of linked) expect(l.lost).toHaveLength(1);
  });

  it("every unit silent at once: the connection is taken as dead, lost for all, and nobody is demoted", async () => {
    const { sim, modbus, linked } = await start({
      timeoutMs: [150, 150, 150],
      demotion: { after: 2, periodMs: 10_000, maxPeriodMs: 10_000 },
    });
    const [l1, l2] = linked as [Linked, Linked];
    await Promise.all([l1.link.connect(), l2.link.connect()]);
    for (const u of sim.units) sim.setSilent(u.unitId, true);
    const [first, second] = await Promise.allSettled([l1.link.read(tagNames), l2.link.read(tagNames)]);
    // the first unit's timeout is its own (the other had not timed out yet); the second one's ends the connection
    expect(first.status === "fulfilled" && reasons(first.value)).toEqual([
      "bad: no reply from unit id 1 within 150 ms",
    ]);
    expect(second.status === "rejected" && (second.reason as PlantbridgeError).code).toBe(
      ErrorCode.MODBUS_TIMEOUT,
    );
    await eventually(() => l1.lost.length === 1 && l2.lost.length === 1);
    expect(l1.lost[0]?.code).toBe(ErrorCode.MODBUS_TIMEOUT);
    expect(l1.lost[0]?.message).toMatch(/from any unit in good standing \(unit id 1, 2\)/);
    for (const m of modbus.gateways.values().next().value?.members ?? []) {
      expect(m.state).toMatchObject({ timeoutsInARow: 0, demotions: 0 });
    }
  });

  it("a gateway's exception 11 (target device failed to respond) counts towards demotion like a timeout", async () => {
    const { sim, modbus, linked } = await start({
      timeoutMs: [2000, 2000, 2000],
      demotion: { after: 2, periodMs: 60_000, maxPeriodMs: 60_000 },
    });
    const first = sim.units[0] as ScaleUnit;
    // unit id 9 is behind the gateway's port, but the gateway reaches no device there: exception 11
    const missingUnit = unitOf(
      { ...first, index: 8, unitId: 9 },
      { timeoutMs: 2000, demotion: { after: 2, periodMs: 60_000, maxPeriodMs: 60_000 } },
    );
    const missing = modbus.link(missingUnit);
    const lost: PlantbridgeError[] = [];
    missing.onLost((e) => lost.push(e));
    links.push({ link: missing, unit: missingUnit, lost });
    await Promise.all([missing.connect(), linked[0]?.link.connect()]);
    const seen: string[][] = [];
    for (let i = 0; i < 3; i++) seen.push(reasons(await missing.read(tagNames)));
    expect(seen).toEqual([
      ["bad: Modbus exception 11 (gateway target device failed to respond)"],
      ["bad: Modbus exception 11 (gateway target device failed to respond)"],
      ["bad: demoted for 60 s after 2 timeouts in a row"],
    ]);
    expect(sim.served.unit(1)?.exceptions).toBe(0);
    expectServed(sim, first, await (linked[0] as Linked).link.read(tagNames));
    const member = modbus.gateways.get(`${first.host}:${first.port}`)?.members.find((m) => m.unitId === 9);
    expect(member?.figures).toMatchObject({ requests: 2, unanswered: 2, demotions: 1, refused: 1 });
    expect(lost).toEqual([]);
  });

  it("writes: a refusal is the unit's, a silent unit id rejects with NO_REPLY, then DEMOTED at once", async () => {
    const { sim, linked } = await start({
      timeoutMs: [2000, 2000, 150],
      demotion: { after: 1, periodMs: 60_000, maxPeriodMs: 60_000 },
    });
    const [l1, , dead] = linked as [Linked, Linked, Linked];
    await Promise.all(linked.map((l) => l.link.connect()));
    // the scale simulator's registers are read-only: exception 1, the link stays up
    expect(await outcome(l1.link.write("setpoint", 5))).toBe(ErrorCode.MODBUS_EXCEPTION);
    expect(await outcome(l1.link.write("setpoint", 500))).toBe(ErrorCode.OUT_OF_LIMITS);
    sim.setSilent(3, true);
    expect(await outcome(dead.link.write("setpoint", 5))).toBe(ErrorCode.MODBUS_NO_REPLY);
    const unansweredBefore = sim.served.unit(3)?.unanswered;
    expect(await outcome(dead.link.write("setpoint", 5))).toBe(ErrorCode.MODBUS_DEMOTED);
    expect(sim.served.unit(3)?.unanswered).toBe(unansweredBefore);
    expectServed(sim, sim.units[0] as ScaleUnit, await l1.link.read(tagNames));
    for (const l of linked) expect(l.lost).toEqual([]);
  });

  it("separate connections are unchanged: a silent unit times out, loses its own link, the others go on", async () => {
    const { sim, linked } = await start({
      shape: "devices",
      connection: "separate",
      timeoutMs: [2000, 2000, 200],
      demotion: { after: 3, periodMs: 10_000, maxPeriodMs: 10_000 },
    });
    await Promise.all(linked.map((l) => l.link.connect()));
    expect(sim.connections()).toBe(3);
    sim.setSilent(3, true);
    const [r1, r2, r3] = await Promise.allSettled(linked.map((l) => l.link.read(tagNames)));
    expect(r3?.status === "rejected" && (r3.reason as PlantbridgeError).code).toBe(ErrorCode.MODBUS_TIMEOUT);
    expectServed(sim, sim.units[0] as ScaleUnit, (r1 as PromiseFulfilledResult<Map<string, Reading>>).value);
    expectServed(sim, sim.units[1] as ScaleUnit, (r2 as PromiseFulfilledResult<Map<string, Reading>>).value);
    await eventually(() => linked[2]?.lost.length === 1);
    expect(linked[2]?.lost[0]?.code).toBe(ErrorCode.MODBUS_TIMEOUT);
    expect(linked[0]?.lost).toEqual([]);
    expect(linked[1]?.lost).toEqual([]);
  });
});
