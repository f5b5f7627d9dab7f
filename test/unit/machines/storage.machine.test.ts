import { describe, expect, it } from "vitest";
import { SimulatedClock } from "xstate";
import type { Reading } from "../../../adapters/types.ts";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import { type Log, silentLog } from "../../../lib/log.ts";
import { storageMachine } from "../../../machines/storage.machine.ts";
import { cycleSamples, queueCycle } from "../../../machines/storage-samples.ts";
import type { StorageConfig, UnitConfig } from "../../../schemas/plant-types.ts";
import {
  advance,
  captureLog,
  FakeLink,
  flush,
  MemorySpool,
  methUnit,
  pemelUnit,
  storageConfig,
  TestClock,
  takesTime,
} from "./fakes.ts";
import { createTestIO } from "./test-io.ts";
import { startUnderParent } from "./under-parent.ts";

function rig(
  config: Partial<StorageConfig> = {},
  startAt = 0,
  options: { log?: Log; pendingLimit?: number; units?: UnitConfig[] } = {},
) {
  const clock = new SimulatedClock();
  clock.set(startAt);
  const clocks = new TestClock(clock);
  const io = createTestIO(options.units ?? [pemelUnit(), methUnit()], clocks);
  const pemel = new FakeLink("PEMEL", clocks);
  const meth = new FakeLink("METH", clocks);
  pemel.values.set("current", 37).set("power", 1850);
  meth.values.set("temperature", 38.5);
  io.attach("PEMEL", pemel);
  io.attach("METH", meth);
  const spool = new MemorySpool();
  const { child: actor, received } = startUnderParent(
    storageMachine,
    {
      storage: storageConfig(config),
      io: io.io,
      spool,
      clock: clocks,
      log: options.log ?? silentLog(),
      ...(options.pendingLimit !== undefined ? { pendingLimit: options.pendingLimit } : {}),
    },
    clock,
  );
  return { clock, clocks, io, pemel, meth, spool, actor, received };
}

const timesOf = (spool: MemorySpool) => [...new Set(spool.rows.map((s) => s.time))];

describe("storage machine", () => {
  it("stores one sample per tag per cycle, stamped with the cycle's exact scheduled time", async () => {
    const r = rig();
    r.pemel.readHandler = (tags) => takesTime(r.clock, 700, () => r.pemel.serve(tags));
    await advance(r.clock, 30_800, 100);
    expect(r.spool.appendCalls).toEqual([3, 3, 3]);
    expect([...new Set(r.spool.rows.map((s) => s.time))]).toEqual([10_000, 20_000, 30_000]);
    expect(r.spool.rows.slice(0, 3)).toEqual([
      { seq: 1, tag: "METH.temperature", time: 10_000, value: 38.5, quality: "good" },
      { seq: 2, tag: "PEMEL.current", time: 10_000, value: 37, quality: "good" },
      { seq: 3, tag: "PEMEL.power", time: 10_000, value: 1850, quality: "good" },
    ]);
    expect(r.actor.getSnapshot().context).toMatchObject({
      cycles: 3,
      samples: 9,
      badSamples: 0,
      overruns: 0,
    });
  });

  it("aligns cycles to whole multiples of the period", async () => {
    const r = rig({ periodMs: 10_000 }, 1_700_000_003_217);
    await advance(r.clock, 7000, 100);
    expect(r.spool.rows.map((s) => s.time)).toEqual([
      1_700_000_010_000, 1_700_000_010_000, 1_700_000_010_000,
    ]);
  });

  it("stores a failed read as bad-quality samples with the reason: nothing missing", async () => {
    const r = rig();
    r.pemel.readFailure = new PlantbridgeError(ErrorCode.MODBUS_TIMEOUT, "request timed out after 1000 ms", {
      unit: "PEMEL",
    });
    r.io.detach("METH");
    await advance(r.clock, 10_000, 100);
    expect(r.spool.rows).toHaveLength(3);
    expect(r.spool.rows.map((s) => [s.tag, s.quality, s.value, s.reason])).toEqual([
      ["METH.temperature", "bad", null, "unit METH not connected"],
      ["PEMEL.current", "bad", null, "PEMEL: request timed out after 1000 ms"],
      ["PEMEL.power", "bad", null, "PEMEL: request timed out after 1000 ms"],
    ]);
    expect(r.actor.getSnapshot().context).toMatchObject({ cycles: 1, samples: 3, badSamples: 3 });
  });

  it("keeps a cycle the spool refused and appends it with the next one", async () => {
    const r = rig();
    r.spool.failAppends = 1;
    await advance(r.clock, 10_000, 100);
    expect(r.spool.rows).toEqual([]);
    expect(r.actor.getSnapshot().context).toMatchObject({ appendFailures: 1 });
    expect(r.actor.getSnapshot().context.pending.flat()).toHaveLength(3);
    await advance(r.clock, 10_000, 100);
    expect(r.spool.appendCalls).toEqual([3, 6]);
    expect(r.spool.rows.map((s) => s.time)).toEqual([10_000, 10_000, 10_000, 20_000, 20_000, 20_000]);
    expect(r.actor.getSnapshot().context.pending).toEqual([]);
  });

  it("stores every slot for every unit: a unit slower than the deadline is stored bad in that slot, the others good", async () => {
    const r = rig({ periodMs: 1000 });
    let readMs = 100;
    r.pemel.readHandler = (tags) => takesTime(r.clock, readMs, () => r.pemel.serve(tags));
    await advance(r.clock, 1500, 50);
    readMs = 1200; // the cycle at 2000 would end at 3200: it ends at its deadline, 2800
    await advance(r.clock, 1000, 50);
    readMs = 100;
    await advance(r.clock, 2000, 50);
    expect(timesOf(r.spool)).toEqual([1000, 2000, 3000, 4000]);
    const at2000 = r.spool.rows.filter((s) => s.time === 2000);
    expect(at2000.map((s) => [s.tag, s.quality, s.reason])).toEqual([
      ["METH.temperature", "good", undefined],
      ["PEMEL.current", "bad", "PEMEL did not answer within the storage deadline (800 ms)"],
      ["PEMEL.power", "bad", "PEMEL did not answer within the storage deadline (800 ms)"],
    ]);
    expect(r.actor.getSnapshot().context).toMatchObject({ overruns: 0, lateUnits: 1, cycles: 4 });
  });

  it("a hung unit never costs another unit a slot: 100 % of slots stored, the other unit all good", async () => {
    const r = rig({ periodMs: 1000 });
    r.pemel.readHandler = () => new Promise<Map<string, Reading>>(() => {}); // never answers
    await advance(r.clock, 20_900, 50);
    expect(timesOf(r.spool)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 1000));
    const meth = r.spool.rows.filter((s) => s.tag === "METH.temperature");
    expect(meth.every((s) => s.quality === "good")).toBe(true);
    const pemel = r.spool.rows.filter((s) => s.tag.startsWith("PEMEL."));
    expect(pemel).toHaveLength(40);
    expect(pemel.every((s) => s.quality === "bad")).toBe(true);
    expect(r.actor.getSnapshot().context).toMatchObject({ cycles: 20, overruns: 0, lateUnits: 20 });
  });

  it("keeps its cadence through wall-clock steps of ±1 h; sample times follow the clock", async () => {
    const captured = captureLog();
    const start = 1_700_000_000_000;
    const r = rig({ periodMs: 1000 }, start, { log: captured.log });
    await advance(r.clock, 3500, 50); // cycles at +1000, +2000, +3000
    r.clocks.stepWall(-3_600_000);
    await advance(r.clock, 3000, 50); // +4000, +5000, +6000: an hour earlier on the wall
    r.clocks.stepWall(+7_200_000);
    await advance(r.clock, 3000, 50); // +7000, +8000, +9000: an hour later
    const times = timesOf(r.spool).map((t) => t - start);
    expect(times).toEqual([
      1000,
      2000,
      3000,
      4000 - 3_600_000,
      5000 - 3_600_000,
      6000 - 3_600_000,
      7000 + 3_600_000,
      8000 + 3_600_000,
      9000 + 3_600_000,
    ]);
    expect(r.actor.getSnapshot().context).toMatchObject({ cycles: 9, overruns: 0, clockSteps: 2 });
    const warnings = captured.lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings).toEqual([
      expect.stringMatching(/^the wall clock stepped back by 1 h 0 min: storage keeps its cadence/),
      expect.stringMatching(/^the wall clock stepped forward by 2 h 0 min: storage keeps its cadence/),
    ]);
  });

  it("keeps a bounded number of samples in memory while the spool refuses them, counts and logs the rest", async () => {
    const captured = captureLog();
    const r = rig({ periodMs: 1000 }, 0, { log: captured.log, pendingLimit: 9 });
    r.spool.failAppends = 1000;
    await advance(r.clock, 10_500, 50);
    const context = r.actor.getSnapshot().context;
    // 10 cycles of 3 samples: the newest 3 cycles kept, 21 samples dropped, counted.
    expect(context.pending).toHaveLength(3);
    expect(context.pending.flat().map((s) => s.time)).toEqual([
      8000, 8000, 8000, 9000, 9000, 9000, 10_000, 10_000, 10_000,
    ]);
    expect(context).toMatchObject({ dropped: 21, appendFailures: 10 });
    // One warn when the failure started (then quiet until 5 minutes pass); errors for the drops.
    expect(captured.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^spool append failed, 3 samples kept in memory for the next cycle: disk full/),
    ]);
    expect(captured.lines.filter((l) => l.level === 50)).toHaveLength(7);
    r.spool.failAppends = 0;
    await advance(r.clock, 1000, 50);
    // The cycle at 11 000 joins the three waiting ones: the oldest (8000) goes to keep the limit.
    expect(r.spool.rows.map((s) => s.time)).toEqual([
      9000, 9000, 9000, 10_000, 10_000, 10_000, 11_000, 11_000, 11_000,
    ]);
    expect(captured.lines.filter((l) => l.level === 30).map((l) => l.msg)).toContainEqual(
      expect.stringMatching(/^spool appends work again after 10 s \(10 failed, 24 samples dropped in all\)/),
    );
  });

  it("stores a good value unchanged for longer than its maxAge as bad (a frozen PLC)", async () => {
    const pemel = pemelUnit();
    const frozen = {
      ...pemel,
      tags: pemel.tags.map((t) => (t.name === "power" ? { ...t, maxAgeMs: 2500 } : t)),
    };
    const r = rig({ periodMs: 1000 }, 0, { units: [frozen, methUnit()] });
    await advance(r.clock, 4500, 50);
    const power = r.spool.rows.filter((s) => s.tag === "PEMEL.power");
    expect(power.map((s) => s.quality)).toEqual(["good", "good", "good", "bad"]);
    expect(power[3]?.reason).toBe("PEMEL.power frozen: 1850 unchanged for 3 s (maxAge 2.5 s)");
    r.pemel.values.set("power", 1900);
    await advance(r.clock, 1000, 50);
    expect(r.spool.rows.filter((s) => s.tag === "PEMEL.power").at(-1)).toMatchObject({
      quality: "good",
      value: 1900,
    });
  });

  it("tells its parent how many samples each append stored", async () => {
    const r = rig({ periodMs: 1000 });
    await advance(r.clock, 2500, 50);
    expect(r.received).toEqual([
      { type: "SAMPLES_STORED", count: 3 },
      { type: "SAMPLES_STORED", count: 3 },
    ]);
  });

  it("finishes the running cycle on SHUTDOWN, then stops", async () => {
    const r = rig();
    r.pemel.readHandler = (tags) => takesTime(r.clock, 500, () => r.pemel.serve(tags));
    await advance(r.clock, 10_200, 100);
    r.actor.send({ type: "SHUTDOWN" });
    await flush();
    expect(r.actor.getSnapshot().status).toBe("active");
    await advance(r.clock, 300, 100);
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(r.spool.rows).toHaveLength(3);
    await advance(r.clock, 20_000, 1000);
    expect(r.spool.rows).toHaveLength(3);
  });

  it("stops at once on SHUTDOWN between cycles", async () => {
    const r = rig();
    await advance(r.clock, 5000, 1000);
    r.actor.send({ type: "SHUTDOWN" });
    await flush();
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(r.spool.appendCalls).toEqual([]);
  });
});

describe("storage samples", () => {
  it("gives exactly one sample per configured tag, in order", () => {
    const tags = [
      { unit: "A", tag: "x" },
      { unit: "A", tag: "y" },
      { unit: "B", tag: "z" },
    ];
    const readings = new Map([
      ["B.z", { value: true, quality: "good" as const, time: 5, receivedAt: 5 }],
      ["A.x", { value: null, quality: "bad" as const, reason: "BadNodeIdUnknown", time: 5, receivedAt: 5 }],
    ]);
    const ids = tags.map((t) => `${t.unit}.${t.tag}`);
    expect(cycleSamples(ids, (i) => readings.get(ids[i] ?? ""), 1000)).toEqual([
      { tag: "A.x", time: 1000, value: null, quality: "bad", reason: "BadNodeIdUnknown" },
      { tag: "A.y", time: 1000, value: null, quality: "bad", reason: "A.y not read" },
      { tag: "B.z", time: 1000, value: true, quality: "good" },
    ]);
  });

  it("keeps the newest cycles when too many samples wait, never splitting a cycle", () => {
    const s = (time: number) => ({ tag: "A.x", time, value: 1, quality: "good" as const });
    expect(queueCycle([[s(1)], [s(2)]], [s(3)], 2)).toEqual({ waiting: [[s(2)], [s(3)]], dropped: 1 });
    expect(queueCycle([[s(1)]], [s(2)], 2)).toEqual({ waiting: [[s(1)], [s(2)]], dropped: 0 });
    // The newest cycle is kept even when it alone is larger than the limit.
    expect(queueCycle([[s(1)]], [s(2), s(2), s(2)], 2)).toEqual({
      waiting: [[s(2), s(2), s(2)]],
      dropped: 1,
    });
  });
});
