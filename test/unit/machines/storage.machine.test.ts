import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { storageMachine } from "../../../machines/storage.machine.ts";
import { cycleSamples, keepNewest } from "../../../machines/storage-samples.ts";
import { createTagIO } from "../../../machines/tag-io.ts";
import type { StorageConfig } from "../../../schemas/plant-types.ts";
import {
  advance,
  FakeLink,
  flush,
  MemorySpool,
  methUnit,
  pemelUnit,
  storageConfig,
  takesTime,
} from "./fakes.ts";

function rig(config: Partial<StorageConfig> = {}, startAt = 0) {
  const clock = new SimulatedClock();
  clock.set(startAt);
  const now = () => clock.now();
  const io = createTagIO({ units: [pemelUnit(), methUnit()], now, log: silentLog() });
  const pemel = new FakeLink("PEMEL", now);
  const meth = new FakeLink("METH", now);
  pemel.values.set("current", 37).set("power", 1850);
  meth.values.set("temperature", 38.5);
  io.attach("PEMEL", pemel);
  io.attach("METH", meth);
  const spool = new MemorySpool();
  const actor = createActor(storageMachine, {
    clock,
    input: { storage: storageConfig(config), io, spool, now, log: silentLog() },
  });
  actor.start();
  return { clock, io, pemel, meth, spool, actor };
}

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
    expect(r.actor.getSnapshot().context.pending).toHaveLength(3);
    await advance(r.clock, 10_000, 100);
    expect(r.spool.appendCalls).toEqual([3, 6]);
    expect(r.spool.rows.map((s) => s.time)).toEqual([10_000, 10_000, 10_000, 20_000, 20_000, 20_000]);
    expect(r.actor.getSnapshot().context.pending).toEqual([]);
  });

  it("counts an overrun when a cycle's read outlasts the period, and stays on the grid", async () => {
    const r = rig({ periodMs: 1000 });
    let readMs = 100;
    r.pemel.readHandler = (tags) => takesTime(r.clock, readMs, () => r.pemel.serve(tags));
    await advance(r.clock, 1500, 50);
    readMs = 1200; // the cycle at 2000 ends at 3200: the one at 3000 is skipped
    await advance(r.clock, 1000, 50);
    readMs = 100;
    await advance(r.clock, 2000, 50);
    expect([...new Set(r.spool.rows.map((s) => s.time))]).toEqual([1000, 2000, 4000]);
    expect(r.actor.getSnapshot().context.overruns).toBe(1);
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
      ["B.z", { value: true, quality: "good" as const, time: 5 }],
      ["A.x", { value: null, quality: "bad" as const, reason: "BadNodeIdUnknown", time: 5 }],
    ]);
    expect(cycleSamples(tags, readings, 1000)).toEqual([
      { tag: "A.x", time: 1000, value: null, quality: "bad", reason: "BadNodeIdUnknown" },
      { tag: "A.y", time: 1000, value: null, quality: "bad", reason: "A.y not read" },
      { tag: "B.z", time: 1000, value: true, quality: "good" },
    ]);
  });

  it("keeps the newest samples when too many wait", () => {
    const s = (time: number) => ({ tag: "A.x", time, value: 1, quality: "good" as const });
    expect(keepNewest([s(1), s(2), s(3)], 2)).toEqual({ kept: [s(2), s(3)], dropped: 1 });
    expect(keepNewest([s(1)], 2)).toEqual({ kept: [s(1)], dropped: 0 });
  });
});
