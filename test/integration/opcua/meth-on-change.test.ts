/**
 * The 10 ms set-up's first hop: METH serves its H2 demand on change. A subscription that asks for
 * sampling interval 0 gets every change of the demand as it happens (exception-based, none folded),
 * nothing for a dynamics step that leaves it unchanged, and the other variables sampled at the
 * server's fastest rate, which the link logs.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpcuaLink } from "../../../adapters/opcua/opcua-link.ts";
import type { UnitLink } from "../../../adapters/types.ts";
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

const run = runFolder("meth-on-change");
let sim: MethSimulator;
let link: UnitLink | undefined;

beforeAll(async () => {
  sim = await startMethSimulator({
    pkiDir: join(run.dir, "sim-pki"),
    username: METH_USER,
    password: METH_PASSWORD,
    tickMs: 0,
  });
  sim.step(5_000);
});

afterAll(async () => {
  await link?.close();
  await sim?.stop();
  run.remove();
});

describe("METH simulator: the H2 demand on change", () => {
  it("pushes every change of the demand to sampling interval 0, none for an unchanged one", async () => {
    const memory = memoryLog();
    link = createOpcuaLink(
      methUnit(sim.endpoint, {
        tags: [
          methTag("demand", "ns=7;s=::AsGlobalPV:real_h2_flowrate", {
            mode: "subscribe",
            samplingIntervalMs: 0,
          }),
          methTag("pressure", "ns=7;s=::AsGlobalPV:real_pressure", {
            mode: "subscribe",
            samplingIntervalMs: 0,
          }),
        ],
      }),
      { log: memory.log, pkiDir: join(run.dir, "pki") },
    );
    await link.connect();
    sim.setDemand(2);
    const pushes = recordPushes();
    const demands = () => pushes.readings.filter((r) => r.tag === "demand").map((r) => r.reading.value);
    await link.subscribe!(["demand", "pressure"], pushes.listener);
    await waitFor(() => demands().includes(2), 5_000, "the initial demand");

    // Three changes in one go: a sampled item would report the last one only.
    sim.setDemand(3);
    sim.setDemand(4);
    sim.setDemand(5);
    await waitFor(() => demands().includes(5), 5_000, "the third change");
    expect(demands().slice(demands().indexOf(2))).toEqual([2, 3, 4, 5]);

    // The dynamics republish the process values; the unchanged demand is not notified again.
    sim.step(100);
    sim.step(100);
    sim.setDemand(6);
    await waitFor(() => demands().includes(6), 5_000, "the change after the steps");
    expect(demands().slice(demands().indexOf(2))).toEqual([2, 3, 4, 5, 6]);
    expect(pushes.readings.every((r) => r.reading.quality === "good")).toBe(true);

    // The pressure is sampled: the server revised its 0 to its fastest rate, and the link says so.
    const revised = memory.lines.filter((l) =>
      /the server samples pressure every \d+ ms \(asked for 0 ms\)/.test(l.msg),
    );
    expect(revised).toHaveLength(1);
    expect(memory.lines.some((l) => l.msg.includes("samples demand"))).toBe(false);
  });
});
