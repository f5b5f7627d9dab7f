import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { controlMachine } from "../../../machines/control.machine.ts";
import type { LoopTransform } from "../../../machines/control-types.ts";
import type { ControlLoopConfig } from "../../../schemas/plant-types.ts";
import {
  advance,
  captureLog,
  FakeLink,
  flush,
  followLoop,
  linearTransform,
  methUnit,
  pemelUnit,
  TestClock,
  takesTime,
} from "./fakes.ts";
import { createTestIO, type TestIO } from "./test-io.ts";

interface Rig {
  clock: SimulatedClock;
  clocks: TestClock;
  pemel: FakeLink;
  meth: FakeLink;
  io: TestIO;
  actor: ReturnType<typeof createActor<typeof controlMachine>>;
  setpoints: () => number[];
}

function rig(
  options: {
    loop?: Partial<ControlLoopConfig>;
    demandMode?: "poll" | "subscribe";
    transform?: LoopTransform;
    log?: ReturnType<typeof captureLog>["log"];
  } = {},
): Rig {
  const clock = new SimulatedClock();
  const clocks = new TestClock(clock);
  const io = createTestIO([pemelUnit(), methUnit(options.demandMode ?? "poll")], clocks);
  const pemel = new FakeLink("PEMEL", clocks);
  const meth = new FakeLink("METH", clocks);
  pemel.values.set("cooling_reached", true);
  meth.values.set("h2_demand", 20.4);
  io.attach("PEMEL", pemel);
  io.attach("METH", meth);
  const actor = createActor(controlMachine, {
    clock,
    input: {
      loop: followLoop(options.loop),
      transform: options.transform ?? linearTransform,
      io: io.io,
      clock: clocks,
      log: options.log ?? silentLog(),
    },
  });
  actor.start();
  const setpoints = () =>
    pemel.writes.filter((w) => w.tag === "current_setpoint").map((w) => Number(w.value));
  return { clock, clocks, pemel, meth, io, actor, setpoints };
}

const context = (r: Rig) => r.actor.getSnapshot().context;

describe("control machine", () => {
  it("does not write while the permissive is off, and logs that once", async () => {
    const captured = captureLog();
    const r = rig({ log: captured.log });
    r.pemel.values.set("cooling_reached", false);
    await advance(r.clock, 5000, 100);
    expect(r.setpoints()).toEqual([]);
    expect(context(r).evaluations).toBe(5);
    expect(context(r).lastDecision).toBe("permissive off (PEMEL.cooling_reached is off)");
    expect(captured.messages().filter((m) => m.includes("permissive off"))).toHaveLength(1);
  });

  it("writes the transformed value once, and not again while it is unchanged", async () => {
    const r = rig();
    await advance(r.clock, 999, 111);
    expect(r.setpoints()).toEqual([]);
    await advance(r.clock, 1, 1);
    expect(r.setpoints()).toEqual([20]);
    expect(r.pemel.writes[0]?.time).toBe(1000);
    await advance(r.clock, 5000, 100);
    expect(r.setpoints()).toEqual([20]);
    r.meth.values.set("h2_demand", 30.2);
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20, 30]);
    expect(context(r)).toMatchObject({
      writes: 2,
      write: { lastWritten: 30 },
      evaluations: 7,
      failSafeActive: false,
    });
    expect(context(r).lastDecision).toBe("following METH.h2_demand 30.2 → PEMEL.current_setpoint 30");
  });

  it("re-writes the current decision once after OUTPUT_RECONNECTED", async () => {
    const r = rig();
    await advance(r.clock, 2000, 100);
    expect(r.setpoints()).toEqual([20]);
    r.actor.send({ type: "OUTPUT_RECONNECTED" });
    await advance(r.clock, 3000, 100);
    expect(r.setpoints()).toEqual([20, 20]);
    expect(r.pemel.writes.map((w) => w.time)).toEqual([1000, 3000]);
  });

  it("stops writing when the permissive drops", async () => {
    const r = rig();
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20]);
    r.pemel.values.set("cooling_reached", false);
    r.meth.values.set("h2_demand", 40);
    await advance(r.clock, 5000, 100);
    expect(r.setpoints()).toEqual([20]);
    r.pemel.values.set("cooling_reached", true);
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20, 40]);
  });

  it("writes the fail-safe exactly once when the input has been bad for failSafe.afterMs, not a tick before", async () => {
    const captured = captureLog();
    const r = rig({ log: captured.log });
    await advance(r.clock, 2500, 100);
    expect(r.setpoints()).toEqual([20]);
    // METH's link goes: from the evaluation at 3000 on, the demand is bad.
    r.io.detach("METH");
    await advance(r.clock, 5499, 1);
    expect(r.setpoints()).toEqual([20]);
    expect(context(r).failSafeActive).toBe(false);
    expect(context(r).lastDecision).toContain(
      "holding PEMEL.current_setpoint (METH.h2_demand bad: unit METH not connected)",
    );
    await advance(r.clock, 1, 1);
    expect(r.clock.now()).toBe(8000);
    expect(r.setpoints()).toEqual([20, 0]);
    expect(r.pemel.writes.at(-1)?.time).toBe(8000);
    expect(context(r).failSafeActive).toBe(true);
    expect(context(r).failSafeActivations).toBe(1);
    await advance(r.clock, 10_000, 100);
    expect(context(r).failSafeActivations).toBe(1);
    expect(r.setpoints()).toEqual([20, 0]);
    expect(context(r).lastDecision).toBe(
      "fail-safe PEMEL.current_setpoint 0 (input unusable for 15 s: METH.h2_demand bad: unit METH not connected)",
    );

    r.io.attach("METH", r.meth);
    r.meth.values.set("h2_demand", 25);
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20, 0, 25]);
    expect(context(r).failSafeActive).toBe(false);
    expect(context(r).failSafeActivations).toBe(1);
    const info = captured.messages();
    expect(info.filter((m) => m.includes("fail-safe"))).toHaveLength(1);
    expect(info.filter((m) => m.includes("holding"))).toHaveLength(1);
    expect(info.filter((m) => m.includes("resumed"))).toHaveLength(1);
  });

  it("goes to the fail-safe on a stale input, even with the permissive off", async () => {
    const r = rig({ loop: { staleAfterMs: 3000, failSafe: { afterMs: 4000, value: 0 } } });
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20]);
    // From now on METH serves a value whose time is frozen at 1000.
    r.meth.readHandler = async () =>
      new Map([["h2_demand", { value: 20.4, quality: "good" as const, time: 1000, receivedAt: 1000 }]]);
    r.pemel.values.set("cooling_reached", false);
    await advance(r.clock, 3000, 100); // 4000: 3000 ms old, still fresh
    expect(context(r).decision?.kind).toBe("permissive-off");
    await advance(r.clock, 1000, 100); // 5000: stale, first bad evaluation
    expect(context(r).decision?.kind).toBe("hold");
    await advance(r.clock, 3000, 100); // 8000
    expect(r.setpoints()).toEqual([20]);
    await advance(r.clock, 1000, 100); // 9000 = 5000 + 4000
    expect(r.setpoints()).toEqual([20, 0]);
  });

  it("writes nothing for a NaN input and logs the refusal once", async () => {
    const captured = captureLog();
    const r = rig({ log: captured.log });
    r.meth.values.set("h2_demand", Number.NaN);
    await advance(r.clock, 3000, 100);
    expect(r.setpoints()).toEqual([]);
    expect(context(r).decision?.kind).toBe("hold");
    const errors = captured.lines.filter((l) => l.level >= 50).map((l) => l.msg);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("transform refused the input");
  });

  it("keeps a drift-free schedule when reads take time, and counts overruns", async () => {
    const r = rig();
    let readMs = 300;
    r.meth.readHandler = (tags) => takesTime(r.clock, readMs, () => r.meth.serve(tags));
    await advance(r.clock, 2500, 50);
    readMs = 1500; // the evaluation at 3000 ends at 4500: the one due at 4000 is skipped
    await advance(r.clock, 1000, 50);
    readMs = 300;
    await advance(r.clock, 3000, 50);
    expect(r.meth.readCalls.map((c) => c.time)).toEqual([1000, 2000, 3000, 5000, 6000]);
    expect(context(r)).toMatchObject({ overruns: 1, evaluations: 5 });
    expect(r.pemel.writes.map((w) => w.time)).toEqual([1300]);
  });

  it("evaluates at once on INPUT_CHANGED, queues one during an evaluation, and keeps the schedule", async () => {
    const r = rig({ loop: { onChange: true }, demandMode: "subscribe" });
    r.meth.readHandler = undefined;
    r.io.push("METH", "h2_demand", 10);
    r.pemel.readHandler = (tags) => takesTime(r.clock, 200, () => r.pemel.serve(tags));
    await advance(r.clock, 1500, 50); // evaluation at 1000 (write at 1200)
    r.io.push("METH", "h2_demand", 15);
    r.actor.send({ type: "INPUT_CHANGED" });
    await advance(r.clock, 100, 50); // at 1600 the evaluation from 1500 is still reading
    r.io.push("METH", "h2_demand", 17);
    r.actor.send({ type: "INPUT_CHANGED" });
    r.actor.send({ type: "INPUT_CHANGED" });
    await advance(r.clock, 1000, 50);
    expect(r.pemel.readCalls.map((c) => c.time)).toEqual([1000, 1500, 1700, 2000]);
    expect(r.setpoints()).toEqual([10, 15, 17]);
    expect(context(r)).toMatchObject({ evaluations: 4, overruns: 0 });
  });

  it("ignores INPUT_CHANGED when the loop does not evaluate on change", async () => {
    const r = rig({ loop: { onChange: false } });
    await flush();
    r.actor.send({ type: "INPUT_CHANGED" });
    await flush();
    expect(context(r).evaluations).toBe(0);
  });

  it("retries a failed write at the next evaluation", async () => {
    const r = rig();
    r.pemel.writeFailure = new PlantbridgeError(ErrorCode.MODBUS_EXCEPTION, "exception 6 (device busy)");
    await advance(r.clock, 2000, 100);
    expect(context(r)).toMatchObject({ writeFailures: 2, writes: 0, write: { lastWritten: null } });
    r.pemel.writeFailure = undefined;
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20]);
    expect(context(r)).toMatchObject({ writeFailures: 2, writes: 1, write: { lastWritten: 20 } });
  });

  it("does not write while the output unit is detached, then writes once it is back", async () => {
    const r = rig();
    r.io.detach("PEMEL");
    r.pemel.values.set("cooling_reached", true);
    await advance(r.clock, 3000, 100);
    expect(r.setpoints()).toEqual([]);
    r.io.attach("PEMEL", r.pemel);
    r.actor.send({ type: "OUTPUT_RECONNECTED" });
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20]);
  });

  it("stops on SHUTDOWN and evaluates no more", async () => {
    const r = rig();
    await advance(r.clock, 1000, 100);
    r.actor.send({ type: "SHUTDOWN" });
    await advance(r.clock, 5000, 500);
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(context(r).evaluations).toBe(1);
  });

  describe("writes shaped for a real PLC", () => {
    it("minWriteInterval: at most one write per interval, the latest decision wins", async () => {
      const r = rig({ loop: { minWriteIntervalMs: 5000, onChange: true }, demandMode: "subscribe" });
      r.io.push("METH", "h2_demand", 10);
      await advance(r.clock, 1000, 100); // written at 1000
      for (const [at, demand] of [
        [1500, 12],
        [2500, 14],
        [3500, 16],
      ] as const) {
        await advance(r.clock, at - r.clock.now(), 100);
        r.io.push("METH", "h2_demand", demand);
        r.actor.send({ type: "INPUT_CHANGED" });
      }
      await advance(r.clock, 5900 - r.clock.now(), 100);
      expect(r.setpoints()).toEqual([10]);
      await advance(r.clock, 200, 100);
      // One write at 1000 + 5000 of the decision of that moment (16), none of 12 and 14.
      expect(r.setpoints()).toEqual([10, 16]);
      expect(r.pemel.writes.map((w) => w.time)).toEqual([1000, 6000]);
    });

    it("rampRate: moves toward a new set point by at most the rate, one step per evaluation", async () => {
      const r = rig({ loop: { rampRatePerS: 4 } });
      r.meth.values.set("h2_demand", 10);
      await advance(r.clock, 1000, 100); // first write: nothing to ramp from, 10 at once
      r.meth.values.set("h2_demand", 30);
      await advance(r.clock, 6000, 100);
      expect(r.setpoints()).toEqual([10, 14, 18, 22, 26, 30]);
      r.meth.values.set("h2_demand", 21);
      await advance(r.clock, 3000, 100);
      expect(r.setpoints()).toEqual([10, 14, 18, 22, 26, 30, 26, 22, 21]);
    });

    it("rampRate: the fail-safe is never ramped", async () => {
      const r = rig({ loop: { rampRatePerS: 1, failSafe: { afterMs: 2000, value: 0 } } });
      r.meth.values.set("h2_demand", 40);
      await advance(r.clock, 1000, 100);
      r.io.detach("METH");
      await advance(r.clock, 3000, 100);
      expect(r.setpoints()).toEqual([40, 0]);
    });

    it("reassert: writes the unchanged decision again when nothing was written for that long", async () => {
      const r = rig({ loop: { reassertMs: 2500 } });
      await advance(r.clock, 8000, 100);
      expect(r.setpoints()).toEqual([20, 20, 20]);
      expect(r.pemel.writes.map((w) => w.time)).toEqual([1000, 3500, 6000]);
      // Without reassert: once.
      const plain = rig();
      await advance(plain.clock, 8000, 100);
      expect(plain.setpoints()).toEqual([20]);
    });
  });

  it("maxAge: a good input that stops changing counts as stale (a frozen PLC program): hold, then fail-safe", async () => {
    const r = rig({ loop: { failSafe: { afterMs: 3000, value: 0 } } });
    // METH's demand may stay the same for 4 s at most.
    const units = [
      pemelUnit(),
      {
        ...methUnit("poll"),
        tags: methUnit("poll").tags.map((t) => (t.name === "h2_demand" ? { ...t, maxAgeMs: 4000 } : t)),
      },
    ];
    const t = createTestIO(units, r.clocks);
    t.attach("PEMEL", r.pemel);
    t.attach("METH", r.meth);
    const actor = createActor(controlMachine, {
      clock: r.clock,
      input: {
        loop: followLoop({ failSafe: { afterMs: 3000, value: 0 } }),
        transform: linearTransform,
        io: t.io,
        clock: r.clocks,
        log: silentLog(),
      },
    });
    r.actor.stop();
    actor.start();
    r.meth.values.set("h2_demand", 20.4);
    await advance(r.clock, 4000, 100); // seen first at 1000; unchanged up to 5000 is fine
    await advance(r.clock, 1000, 100);
    expect(actor.getSnapshot().context.decision?.kind).toBe("follow");
    await advance(r.clock, 1000, 100); // 6000: unchanged for 5 s > 4 s
    expect(actor.getSnapshot().context.decision?.kind).toBe("hold");
    expect(actor.getSnapshot().context.lastDecision).toContain(
      "METH.h2_demand frozen: 20.4 unchanged for 5 s (maxAge 4 s)",
    );
    await advance(r.clock, 3000, 100); // 9000 = 6000 + 3000
    expect(r.setpoints()).toEqual([20, 0]);
    r.meth.values.set("h2_demand", 21.7);
    await advance(r.clock, 1000, 100);
    expect(r.setpoints()).toEqual([20, 0, 22]);
  });

  it("a wall-clock step of ±1 h neither stops nor doubles control, nor fires a false fail-safe", async () => {
    const r = rig({ loop: { staleAfterMs: 3000, failSafe: { afterMs: 3000, value: 0 } } });
    await advance(r.clock, 2000, 100);
    const before = context(r).evaluations;
    r.clocks.stepWall(-3_600_000);
    await advance(r.clock, 5000, 100);
    r.clocks.stepWall(+7_200_000);
    await advance(r.clock, 5000, 100);
    expect(context(r).evaluations - before).toBe(10);
    expect(context(r)).toMatchObject({ overruns: 0, failSafeActive: false, failSafeActivations: 0 });
    expect(r.setpoints()).toEqual([20]);
  });
});
