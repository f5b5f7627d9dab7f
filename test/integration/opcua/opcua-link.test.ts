/** The OPC UA link against the METH simulator: reads, node id forms, writes, subscriptions, security. */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createOpcuaLink } from "../../../adapters/opcua/opcua-link.ts";
import {
  fetchServerCertificate,
  trustServerCertificate,
} from "../../../adapters/opcua/server-certificate.ts";
import type { Reading, UnitLink } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError, type PlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import type { OpcuaUnitConfig } from "../../../schemas/plant-types.ts";
import { type MethSimulator, startMethSimulator } from "../../../simulators/meth/index.ts";
import {
  METH_PASSWORD,
  METH_USER,
  memoryLog,
  methTag,
  methUnit,
  recordPushes,
  runFolder,
  waitFor,
} from "./meth-fixture.ts";

const run = runFolder("opcua-link");
const pkiDir = join(run.dir, "pki");
let sim: MethSimulator;
const links: UnitLink[] = [];

function link(overrides: Partial<OpcuaUnitConfig> = {}, log = silentLog()): UnitLink {
  const l = createOpcuaLink(methUnit(sim.endpoint, overrides), { log, pkiDir });
  links.push(l);
  return l;
}

async function rejection(p: Promise<unknown>): Promise<PlantbridgeError> {
  try {
    await p;
  } catch (e) {
    if (isPlantbridgeError(e)) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  sim = await startMethSimulator({
    pkiDir: join(run.dir, "sim-pki"),
    username: METH_USER,
    password: METH_PASSWORD,
    tickMs: 0,
  });
  sim.step(5_000);
});

afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.close()));
  sim.clearFaults();
});

afterAll(async () => {
  await sim?.stop();
  run.remove();
});

describe("OPC UA link: reads", () => {
  it("reads the four METH values in one Read call, equal to what the simulator serves", async () => {
    const l = link();
    await l.connect();
    const before = sim.served.reads;
    const r = await l.read([
      "real_temperature",
      "real_pressure",
      "real_methane_production",
      "real_h2_flowrate",
    ]);
    expect(sim.served.reads - before).toBe(1);
    const v = sim.values();
    expect(r.get("real_temperature")).toMatchObject({ quality: "good", value: v.temperature });
    expect(r.get("real_pressure")).toMatchObject({ quality: "good", value: v.pressure });
    expect(r.get("real_methane_production")).toMatchObject({ quality: "good", value: v.methaneProduction });
    expect(r.get("real_h2_flowrate")).toMatchObject({ quality: "good", value: v.h2Flowrate });
    expect([...r.keys()]).toEqual([
      "real_temperature",
      "real_pressure",
      "real_methane_production",
      "real_h2_flowrate",
    ]);
    // the source timestamp is the simulator's, not the time of reading
    expect(r.get("real_temperature")?.time).toBeGreaterThan(0);
  });

  it("resolves the nsu= form through the server's namespace array to index 7", async () => {
    const l = link({
      tags: [
        methTag("demand", `nsu=${sim.namespaceUri};s=::AsGlobalPV:real_h2_flowrate`),
        methTag("elsewhere", "nsu=urn:not-on-this-server;s=::AsGlobalPV:real_h2_flowrate"),
      ],
    });
    await l.connect();
    sim.setDemand(7.25);
    const r = await l.read(["demand", "elsewhere"]);
    expect(sim.namespaceIndex).toBe(7);
    expect(r.get("demand")).toMatchObject({ quality: "good", value: 7.25 });
    expect(r.get("elsewhere")).toMatchObject({ quality: "bad", value: null });
    expect(r.get("elsewhere")?.reason).toMatch(/^BadNodeIdUnknown.*urn:not-on-this-server/);
  });

  it("gives an unknown node a bad reading with the server's reason, not a link failure", async () => {
    const l = link({
      tags: [
        methTag("ghost", "ns=7;s=::AsGlobalPV:no_such_variable"),
        methTag("p", "ns=7;s=::AsGlobalPV:real_pressure"),
      ],
    });
    let lost = 0;
    l.onLost(() => {
      lost += 1;
    });
    await l.connect();
    const r = await l.read(["ghost", "p"]);
    expect(r.get("ghost")).toMatchObject({ quality: "bad", value: null, reason: "BadNodeIdUnknown" });
    expect(r.get("p")?.quality).toBe("good");
    expect(lost).toBe(0);
  });

  it("turns a bad-status fault into bad quality with the status as reason", async () => {
    const l = link();
    await l.connect();
    sim.setFault({ kind: "bad-status", nodes: ["real_temperature"], status: "BadSensorFailure" });
    const r = await l.read(["real_temperature", "real_pressure"]);
    expect(r.get("real_temperature")).toMatchObject({
      quality: "bad",
      value: null,
      reason: "BadSensorFailure",
    });
    expect(r.get("real_pressure")?.quality).toBe("good");
    sim.clearFaults();
    const again = await l.read(["real_temperature"]);
    expect(again.get("real_temperature")?.quality).toBe("good");
  });

  it("serves frozen values while the simulator is frozen, moving ones again after clearFaults", async () => {
    const l = link();
    await l.connect();
    sim.followProfile();
    const before = (await l.read(["real_pressure"])).get("real_pressure")?.value;
    sim.setFault({ kind: "freeze" });
    sim.step(60_000);
    expect((await l.read(["real_pressure"])).get("real_pressure")?.value).toBe(before);
    sim.clearFaults();
    const after = (await l.read(["real_pressure"])).get("real_pressure")?.value;
    expect(after).not.toBe(before);
    expect(after).toBe(sim.values().pressure);
  });

  it("refuses to read before connect and rejects unknown tag names", async () => {
    const l = link();
    expect((await rejection(l.read(["real_pressure"]))).code).toBe(ErrorCode.NOT_CONNECTED);
    await l.connect();
    const e = await rejection(l.read(["real_pressure", "no_such_tag"]));
    expect(e.code).toBe(ErrorCode.UNKNOWN_TAG);
    expect(e.origin).toEqual({ unit: "METH", tag: "no_such_tag" });
  });
});

describe("OPC UA link: writes", () => {
  it("writes a Double, an Int16 and a Boolean with the tag's data type and reads them back", async () => {
    const l = link();
    await l.connect();
    await l.write("test_setpoint", 12.5);
    await l.write("test_level", -42);
    await l.write("test_enable", true);
    expect(sim.valueOf("real_test_setpoint")).toBe(12.5);
    expect(sim.valueOf("int_test_level")).toBe(-42);
    expect(sim.valueOf("bool_test_enable")).toBe(true);
    const r = await l.read(["test_setpoint", "test_level", "test_enable"]);
    expect(r.get("test_setpoint")?.value).toBe(12.5);
    expect(r.get("test_level")?.value).toBe(-42);
    expect(r.get("test_enable")?.value).toBe(true);
  });

  it("refuses unknown, read-only, out-of-limit, non-finite and fractional values before sending anything", async () => {
    const l = link();
    await l.connect();
    const before = sim.served.writes;
    expect((await rejection(l.write("nope", 1))).code).toBe(ErrorCode.UNKNOWN_TAG);
    expect((await rejection(l.write("real_pressure", 1))).code).toBe(ErrorCode.NOT_WRITABLE);
    const above = await rejection(l.write("test_setpoint", 50.5));
    expect(above.code).toBe(ErrorCode.OUT_OF_LIMITS);
    expect(above.origin).toEqual({ unit: "METH", tag: "test_setpoint" });
    expect((await rejection(l.write("test_setpoint", -1))).code).toBe(ErrorCode.OUT_OF_LIMITS);
    expect((await rejection(l.write("test_setpoint", Number.NaN))).code).toBe(ErrorCode.BAD_INPUT);
    expect((await rejection(l.write("test_setpoint", Number.POSITIVE_INFINITY))).code).toBe(
      ErrorCode.BAD_INPUT,
    );
    expect((await rejection(l.write("test_level", 2.5))).code).toBe(ErrorCode.BAD_INPUT);
    expect((await rejection(l.write("test_enable", 2))).code).toBe(ErrorCode.BAD_INPUT);
    expect(sim.served.writes).toBe(before);
  });

  it("rejects a write the server refuses with PB_ERR_OPCUA_BAD_STATUS naming unit, tag and status", async () => {
    // Declared writable in the plant file, but the PLC's variable is read-only.
    const l = link({
      tags: [methTag("h2_demand", "ns=7;s=::AsGlobalPV:real_h2_flowrate", { writable: { min: 0, max: 20 } })],
    });
    await l.connect();
    const e = await rejection(l.write("h2_demand", 5));
    expect(e.code).toBe(ErrorCode.OPCUA_BAD_STATUS);
    expect(e.origin).toEqual({ unit: "METH", tag: "h2_demand" });
    expect(e.message).toContain("BadNotWritable");
    expect(e.describe()).toMatch(/^METH\.h2_demand: /);
  });
});

describe("OPC UA link: subscriptions", () => {
  it("pushes the initial value and a change after setDemand, with quality", async () => {
    const l = link();
    await l.connect();
    sim.setDemand(3.5);
    const seen: { tag: string; reading: Reading }[] = [];
    const before = sim.served.subscriptions;
    const pushes = recordPushes((tag, reading) => seen.push({ tag, reading }));
    const subscription = await l.subscribe!(["real_h2_flowrate", "real_pressure"], pushes.listener);
    // The silence limit follows the revised keep-alive count × publishing interval, plus the timeout.
    expect(subscription.silenceLimitMs).toBeGreaterThan(0);
    expect(Number.isFinite(subscription.silenceLimitMs)).toBe(true);
    expect(sim.served.subscriptions - before).toBe(1);
    await waitFor(
      () => seen.some((s) => s.tag === "real_h2_flowrate" && s.reading.value === 3.5),
      30_000,
      "initial demand",
    );
    await waitFor(() => seen.some((s) => s.tag === "real_pressure"), 5_000, "initial pressure");
    sim.setDemand(11.75);
    await waitFor(
      () => seen.some((s) => s.tag === "real_h2_flowrate" && s.reading.value === 11.75),
      30_000,
      "changed demand",
    );
    expect(seen.every((s) => s.reading.quality === "good")).toBe(true);
    sim.setFault({ kind: "bad-status", nodes: ["::AsGlobalPV:real_h2_flowrate"] });
    await waitFor(
      () => seen.some((s) => s.tag === "real_h2_flowrate" && s.reading.reason === "BadSensorFailure"),
      30_000,
      "bad status",
    );
    expect(pushes.alive).toBeGreaterThan(0);
    expect(pushes.ended).toEqual([]);
    await subscription.close();
    const count = seen.length;
    sim.clearFaults();
    sim.setDemand(2.0);
    await l.read(["real_h2_flowrate"]); // a round trip after the change: a live subscription would have published by now
    expect(seen.length).toBe(count);
    await subscription.close(); // idempotent
  });

  it("applies absolute and percent deadbands: changes smaller than them are not pushed", async () => {
    const demand = "ns=7;s=::AsGlobalPV:real_h2_flowrate"; // EURange 0..25 Nl/min on the simulator
    const l = link({
      tags: [
        methTag("abs", demand, { mode: "subscribe", deadband: { type: "absolute", value: 1 } }),
        methTag("pct", demand, { mode: "subscribe", deadband: { type: "percent", value: 10 } }),
        methTag("all", demand, { mode: "subscribe" }),
      ],
    });
    await l.connect();
    sim.setDemand(5);
    const values: Record<string, number[]> = { abs: [], pct: [], all: [] };
    const subscription = await l.subscribe!(
      ["abs", "pct", "all"],
      recordPushes((tag, r) => {
        if (typeof r.value === "number") values[tag]?.push(r.value);
      }).listener,
    );
    await waitFor(() => Object.values(values).every((v) => v.includes(5)), 5_000, "initial values");
    const step = async (v: number, ...tags: string[]) => {
      sim.setDemand(v);
      await waitFor(() => tags.every((t) => values[t]!.includes(v)), 5_000, `${v} on ${tags.join(", ")}`);
    };
    // the item without deadband (same sampling interval) shows the server sampled each value
    await step(5.4, "all"); // < 1 and < 2.5 (10 % of 25)
    await step(6.5, "abs", "all"); // > 1 from 5, < 2.5
    await step(8, "pct", "abs"); // > 2.5 from 5
    expect(values.abs).toEqual([5, 6.5, 8]);
    expect(values.pct).toEqual([5, 8]);
    await subscription.close();
  });

  it("reports a tag whose monitored item cannot be created as bad, the others keep coming", async () => {
    const l = link({
      tags: [
        methTag("ghost", "ns=7;s=::AsGlobalPV:no_such_variable"),
        methTag("demand", "ns=7;s=::AsGlobalPV:real_h2_flowrate"),
      ],
    });
    await l.connect();
    sim.setDemand(4.5);
    const seen = new Map<string, Reading>();
    const subscription = await l.subscribe!(
      ["ghost", "demand"],
      recordPushes((tag, r) => seen.set(tag, r)).listener,
    );
    await waitFor(() => seen.has("ghost") && seen.has("demand"), 5_000, "both tags");
    expect(seen.get("ghost")).toMatchObject({ quality: "bad", reason: "BadNodeIdUnknown" });
    expect(seen.get("demand")).toMatchObject({ quality: "good", value: 4.5 });
    await subscription.close();
  });
});

describe("OPC UA link: identity and security", () => {
  it("rejects a wrong password promptly with PB_ERR_OPCUA_AUTH and never shows the password", async () => {
    const memory = memoryLog();
    const wrong = "Wr0ng-Pa55word-xyz";
    const l = link({ password: wrong }, memory.log);
    // AUTH, not TIMEOUT: the refusal ends the connect, it does not wait out the unit's timeout
    const e = await rejection(l.connect());
    expect(e.code).toBe(ErrorCode.OPCUA_AUTH);
    expect(e.message).not.toContain(wrong);
    expect(e.describe()).not.toContain(wrong);
    expect(memory.text()).not.toContain(wrong);
    expect((await rejection(l.read(["real_pressure"]))).code).toBe(ErrorCode.NOT_CONNECTED);
  });

  it("refuses an anonymous session on a unit that requires a user", async () => {
    const l = link({ username: undefined, password: undefined });
    const e = await rejection(l.connect());
    expect(e.code).toBe(ErrorCode.OPCUA_AUTH);
  });

  it.each([
    ["Sign", "Basic256Sha256"],
    ["SignAndEncrypt", "Basic256Sha256"],
    ["SignAndEncrypt", "Aes256_Sha256_RsaPss"],
  ] as const)("connects with %s / %s, its client PKI under var/", async (mode, policy) => {
    const unit = { securityMode: mode, securityPolicy: policy, timeoutMs: 10_000 } as const;
    // With Sign/SignAndEncrypt the server's certificate must be trusted first (plantbridge trust).
    const server = await fetchServerCertificate(methUnit(sim.endpoint, unit), pkiDir);
    await trustServerCertificate(pkiDir, server.chain);
    const l = link(unit);
    await l.connect();
    const r = await l.read(["real_pressure"]);
    expect(r.get("real_pressure")?.quality).toBe("good");
    const { existsSync } = await import("node:fs");
    expect(existsSync(join(pkiDir, "client", "own", "certs"))).toBe(true);
  });

  it("refuses a security mode that does not go with its policy when the link is made", () => {
    expect(() =>
      createOpcuaLink(methUnit(sim.endpoint, { securityMode: "Sign", securityPolicy: "None" }), {
        log: silentLog(),
        pkiDir,
      }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG }));
  });
});
