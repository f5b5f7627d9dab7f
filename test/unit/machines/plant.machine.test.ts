import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { plantHealth, plantMachine } from "../../../machines/plant.machine.ts";
import type { PlantDeps } from "../../../machines/plant-deps.ts";
import type { PlantConfig } from "../../../schemas/plant-types.ts";
import {
  advance,
  FakeLink,
  FakeSink,
  flush,
  followLoop,
  linearTransform,
  linkError,
  MemorySpool,
  plantConfig,
} from "./fakes.ts";

function rig(plant: PlantConfig = plantConfig(), options: { shutdownFlushMs?: number } = {}) {
  const clock = new SimulatedClock();
  const now = () => clock.now();
  const links = new Map<string, FakeLink>();
  const spool = new MemorySpool();
  const sink = new FakeSink("historian");
  const deps: PlantDeps = {
    createLink: (unit) => {
      const link = new FakeLink(unit.name, now);
      links.set(unit.name, link);
      return link;
    },
    transforms: new Map([["pemel_follows_meth", linearTransform]]),
    spool,
    sinks: [sink],
    now,
    random: () => 0,
    log: silentLog(),
  };
  const actor = createActor(plantMachine, {
    clock,
    input: { plant, deps, shutdownFlushMs: options.shutdownFlushMs ?? 5000, forwarderIdleMs: 1000 },
  });
  const link = (name: string) => {
    const l = links.get(name);
    if (l === undefined) throw new Error(`no link for ${name}`);
    return l;
  };
  return { clock, actor, spool, sink, links, link, health: () => plantHealth(actor.getSnapshot()) };
}

type Rig = ReturnType<typeof rig>;

/** Units serve plausible values: cooling reached, 37 A, 1850 W, 38.5 °C. */
function serveValues(r: Rig): void {
  r.link("PEMEL").values.set("cooling_reached", true).set("current", 37).set("power", 1850);
  r.link("METH").values.set("temperature", 38.5);
}

const setpoints = (r: Rig) => r.link("PEMEL").writes.map((w) => w.value);

describe("plant machine", () => {
  it("creates one link per unit and connects them all", async () => {
    const r = rig();
    r.actor.start();
    await flush();
    expect([...r.links.keys()]).toEqual(["PEMEL", "METH"]);
    expect(r.link("PEMEL").connectCalls).toEqual([0]);
    expect(r.link("METH").connectCalls).toEqual([0]);
    expect(r.health().units.PEMEL?.state).toBe("connected");
    expect(r.health().units.METH?.state).toBe("connected");
    // METH's subscribed demand is subscribed once it is connected.
    expect(r.link("METH").subscribeCalls).toEqual([["h2_demand"]]);
    expect(r.sink.openCalls[0]?.map((t) => t.id)).toEqual([
      "METH.temperature",
      "PEMEL.current",
      "PEMEL.power",
    ]);
  });

  it("runs control on pushed demand, stores samples and forwards them to the historian", async () => {
    const r = rig(plantConfig({ control: [followLoop({ onChange: true })] }));
    r.actor.start();
    await flush();
    serveValues(r);
    r.link("METH").push("h2_demand", 30.4);
    await flush();
    // onChange: evaluated at once on the push, not at the next period.
    expect(setpoints(r)).toEqual([30]);
    expect(r.link("PEMEL").writes[0]?.time).toBe(0);
    await advance(r.clock, 20_000, 100);
    expect(setpoints(r)).toEqual([30]);
    r.link("METH").push("h2_demand", 12.2);
    await flush();
    expect(setpoints(r)).toEqual([30, 12]);
    await advance(r.clock, 1000, 100);
    expect(r.sink.stored.map((s) => `${s.tag}@${s.time}=${s.value}`)).toEqual([
      "METH.temperature@10000=38.5",
      "PEMEL.current@10000=37",
      "PEMEL.power@10000=1850",
      "METH.temperature@20000=38.5",
      "PEMEL.current@20000=37",
      "PEMEL.power@20000=1850",
    ]);
  });

  it("gives a JSON health snapshot with units, loops, storage, spool and sinks", async () => {
    const r = rig();
    r.actor.start();
    await flush();
    serveValues(r);
    r.link("METH").push("h2_demand", 20);
    await advance(r.clock, 10_000, 100);
    const health = r.health();
    expect(JSON.parse(JSON.stringify(health))).toEqual(health);
    expect(health).toEqual({
      plant: "p2g-test",
      state: "running",
      units: {
        PEMEL: { state: "connected", since: 0, faults: 0, reconnects: 0, lastError: null },
        METH: { state: "connected", since: 0, faults: 0, reconnects: 0, lastError: null },
      },
      loops: {
        pemel_follows_meth: {
          state: "waiting",
          lastDecision: "following METH.h2_demand 20 → PEMEL.current_setpoint 20",
          evaluations: 10,
          writes: 1,
          writeFailures: 0,
          lastWritten: 20,
          failSafeActive: false,
          failSafeActivations: 0,
          overruns: 0,
        },
      },
      storage: {
        state: "waiting",
        cycles: 1,
        samples: 3,
        badSamples: 0,
        overruns: 0,
        appendFailures: 0,
        unstored: 0,
        dropped: 0,
      },
      spool: { pending: { historian: 0 }, held: 3, dropped: 0, deadLettered: 0 },
      sinks: {
        historian: {
          state: "idle",
          since: 10_000,
          delivered: 3,
          deadLettered: 0,
          batches: 1,
          retries: 0,
          lastError: null,
        },
      },
    });
  });

  it("detaches a faulted unit, reconnects it, re-subscribes and re-writes the set point", async () => {
    const r = rig();
    r.actor.start();
    await flush();
    serveValues(r);
    r.link("METH").push("h2_demand", 20);
    await advance(r.clock, 1000, 100);
    expect(setpoints(r)).toEqual([20]);

    // METH drops (and its first reconnect fails): the demand is bad, the loop holds.
    r.link("METH").connectScript = [linkError("METH")];
    r.link("METH").lose("keep-alive missed");
    await flush();
    expect(r.health().units.METH).toMatchObject({ state: "faulted", faults: 1 });
    expect(r.health().units.METH?.lastError).toContain("keep-alive missed");
    await advance(r.clock, 1500, 100);
    expect(r.health().units.METH).toMatchObject({ state: "faulted", faults: 2 });
    expect(r.health().loops.pemel_follows_meth?.lastDecision).toContain(
      "METH.h2_demand bad: unit METH not connected",
    );
    expect(setpoints(r)).toEqual([20]);
    await advance(r.clock, 2000, 100);
    expect(r.health().units.METH).toMatchObject({ state: "connected", reconnects: 1 });
    expect(r.link("METH").subscribeCalls).toHaveLength(2);
    expect(r.link("METH").unsubscribeCalls).toBe(1);
    r.link("METH").push("h2_demand", 20);
    await advance(r.clock, 1000, 100);
    expect(r.health().loops.pemel_follows_meth?.lastDecision).toContain("following");

    // PEMEL drops and comes back: the unchanged set point is written again once.
    r.link("PEMEL").lose();
    await advance(r.clock, 1000, 100);
    expect(r.health().units.PEMEL?.state).toBe("connected");
    await advance(r.clock, 3000, 100);
    expect(setpoints(r)).toEqual([20, 20]);
  });

  it("faults a unit whose reads fail at link level", async () => {
    const r = rig();
    r.actor.start();
    await flush();
    serveValues(r);
    r.link("PEMEL").readFailure = new PlantbridgeError(ErrorCode.MODBUS_TIMEOUT, "request timed out", {
      unit: "PEMEL",
    });
    await advance(r.clock, 1000, 100);
    expect(r.health().units.PEMEL).toMatchObject({ state: "faulted", faults: 1 });
    expect(r.link("PEMEL").closeCalls).toBe(1);
  });

  it("faults a unit whose subscription fails at link level, and subscribes again after reconnecting", async () => {
    const r = rig();
    r.actor.start();
    const meth = r.link("METH");
    const subscribe = meth.subscribe.bind(meth);
    let failures = 1;
    meth.subscribe = (tags, onReading) => {
      if (failures-- > 0)
        return Promise.reject(new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, "CreateSubscription timed out"));
      return subscribe(tags, onReading);
    };
    await flush();
    expect(r.health().units.METH).toMatchObject({ state: "faulted", faults: 1 });
    expect(r.health().units.METH?.lastError).toContain("CreateSubscription timed out");
    await advance(r.clock, 1000, 100);
    expect(r.health().units.METH?.state).toBe("connected");
    expect(meth.subscribeCalls).toEqual([["h2_demand"]]);
  });

  it("SHUTDOWN stops control and storage, flushes the spool, closes links and sinks, and stops", async () => {
    const r = rig();
    r.actor.start();
    await flush();
    serveValues(r);
    r.link("METH").push("h2_demand", 20);
    r.sink.unavailable = true;
    await advance(r.clock, 30_000, 100);
    expect(r.spool.pending("historian")).toBe(9);
    r.sink.unavailable = false;
    r.actor.send({ type: "SHUTDOWN" });
    await advance(r.clock, 100, 100);
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(r.actor.getSnapshot().value).toBe("stopped");
    expect(r.sink.stored).toHaveLength(9);
    expect(r.sink.closeCalls).toBe(1);
    expect(r.link("PEMEL").closeCalls).toBe(1);
    expect(r.link("METH").closeCalls).toBe(1);
    expect(r.link("METH").unsubscribeCalls).toBe(1);
    const health = r.health();
    expect(health.state).toBe("stopped");
    expect(health.units.PEMEL?.state).toBe("closed");
    expect(health.loops.pemel_follows_meth?.state).toBe("stopped");
    expect(health.storage.state).toBe("stopped");
    expect(health.sinks.historian?.state).toBe("flushed");
    // Nothing runs afterwards.
    const writes = setpoints(r).length;
    await advance(r.clock, 20_000, 1000);
    expect(setpoints(r)).toHaveLength(writes);
    expect(r.spool.rows).toHaveLength(9);
    // The CLI closes the spool after the plant stopped: health still reports the last figures.
    r.spool.close();
    expect(r.health().spool).toEqual({ pending: { historian: 0 }, held: 9, dropped: 0, deadLettered: 0 });
  });

  it("SHUTDOWN with the historian down stops after the flush deadline, keeping the samples in the spool", async () => {
    const r = rig(plantConfig(), { shutdownFlushMs: 3000 });
    r.actor.start();
    await flush();
    serveValues(r);
    r.sink.unavailable = true;
    await advance(r.clock, 10_000, 100);
    r.actor.send({ type: "SHUTDOWN" });
    await advance(r.clock, 2900, 100);
    expect(r.actor.getSnapshot().status).toBe("active");
    expect(r.link("PEMEL").closeCalls).toBe(0);
    await advance(r.clock, 100, 100);
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(r.spool.pending("historian")).toBe(3);
    expect(r.sink.closeCalls).toBe(1);
  });

  it("a loop without a transform never follows its input and reaches its fail-safe", async () => {
    const r = rig(plantConfig({ control: [followLoop({ name: "orphan" })] }));
    r.actor.start();
    await flush();
    serveValues(r);
    r.link("METH").push("h2_demand", 20);
    await advance(r.clock, 6000, 100);
    expect(r.health().loops.orphan?.failSafeActive).toBe(true);
    expect(setpoints(r)).toEqual([0]);
  });
});
