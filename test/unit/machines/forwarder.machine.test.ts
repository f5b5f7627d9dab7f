import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import type { Sample } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { deliverBatch } from "../../../machines/deliver-batch.ts";
import { forwarderMachine } from "../../../machines/forwarder.machine.ts";
import { captureLog } from "../../support/historian-faults.ts";
import { advance, FakeSink, flush, MemorySpool, TestClock, takesTime, testReconnect } from "./fakes.ts";

function samples(from: number, count: number, tag = "PEMEL.current"): Sample[] {
  return Array.from({ length: count }, (_, i) => ({
    tag,
    time: (from + i) * 1000,
    value: from + i,
    quality: "good",
  }));
}

function rig(options: { batchSize?: number; idleDelayMs?: number } = {}, log = silentLog()) {
  const clock = new SimulatedClock();
  const spool = new MemorySpool();
  const sink = new FakeSink("historian");
  const actor = createActor(forwarderMachine, {
    clock,
    input: {
      spool,
      sink,
      batchSize: options.batchSize ?? 4,
      idleDelayMs: options.idleDelayMs ?? 1000,
      retry: testReconnect,
      random: () => 0,
      log,
      clock: new TestClock(clock),
      tags: [{ id: "PEMEL.current", unit: "PEMEL", engineeringUnit: "A" }],
    },
  });
  return { clock, spool, sink, actor };
}

const state = (r: ReturnType<typeof rig>) => r.actor.getSnapshot().value;
const ctx = (r: ReturnType<typeof rig>) => r.actor.getSnapshot().context;

describe("forwarder machine", () => {
  it("opens the sink with the tags, then delivers the spool in order in batches", async () => {
    const r = rig({ batchSize: 4 });
    r.spool.append(samples(1, 10));
    r.actor.start();
    await flush();
    expect(r.sink.openCalls).toEqual([[{ id: "PEMEL.current", unit: "PEMEL", engineeringUnit: "A" }]]);
    expect(r.sink.writeCalls).toEqual([4, 4, 2]);
    expect(r.sink.stored.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.spool.cursors.get("historian")).toBe(10);
    expect(state(r)).toBe("idle");
    expect(ctx(r)).toMatchObject({ batches: 3, delivered: 10, deadLettered: 0, retries: 0 });
  });

  it("picks up new samples after the idle delay, or at once on SAMPLES_APPENDED", async () => {
    const r = rig({ idleDelayMs: 5000 });
    r.actor.start();
    await flush();
    r.spool.append(samples(1, 2));
    await advance(r.clock, 4900, 100);
    expect(r.sink.stored).toHaveLength(0);
    await advance(r.clock, 100, 100);
    expect(r.sink.stored).toHaveLength(2);
    r.spool.append(samples(3, 1));
    r.actor.send({ type: "SAMPLES_APPENDED" });
    await flush();
    expect(r.sink.stored).toHaveLength(3);
  });

  it("keeps samples in the spool through an outage, then drains them in order, none twice", async () => {
    const r = rig({ batchSize: 5 });
    r.actor.start();
    r.spool.append(samples(1, 3));
    await flush();
    expect(r.sink.stored).toHaveLength(3);

    r.sink.unavailable = true;
    const pendingSeen: number[] = [];
    // Storage keeps appending one cycle of 3 samples every second during a 20 s outage.
    for (let second = 0; second < 20; second++) {
      r.spool.append(samples(100 + second * 3, 3));
      r.actor.send({ type: "SAMPLES_APPENDED" });
      await advance(r.clock, 1000, 100);
      pendingSeen.push(r.spool.pending("historian"));
    }
    expect(state(r)).toBe("historianDown");
    // The spool only grows during the outage.
    expect(pendingSeen).toEqual(pendingSeen.map((_, i) => (i + 1) * 3));
    // Backoff 1, 2, 4, 8 s (capped at 8): attempts at 0, 1, 3, 7, 15 s.
    expect(ctx(r).retries).toBe(5);
    expect(ctx(r).lastError).toContain("connection refused");

    r.sink.unavailable = false;
    await advance(r.clock, 8000, 100);
    expect(state(r)).toBe("idle");
    expect(r.spool.pending("historian")).toBe(0);
    const seqs = r.sink.stored.map((s) => s.seq);
    expect(seqs).toEqual(Array.from({ length: 63 }, (_, i) => i + 1));
    expect(new Set(r.sink.stored.map((s) => `${s.tag}@${s.time}`)).size).toBe(63);
    expect(ctx(r)).toMatchObject({ delivered: 63, attempts: 0 });
  });

  it("retries opening the sink with backoff until it answers", async () => {
    const r = rig();
    r.sink.unavailable = true;
    r.spool.append(samples(1, 2));
    r.actor.start();
    await advance(r.clock, 3500, 100);
    expect(r.sink.openCalls).toHaveLength(3); // 0, 1000, 3000
    expect(state(r)).toBe("historianDown");
    r.sink.unavailable = false;
    await advance(r.clock, 4000, 100);
    expect(r.sink.openCalls).toHaveLength(4);
    expect(r.sink.stored).toHaveLength(2);
  });

  it("dead-letters a rejected row and delivers the rest of its batch", async () => {
    const r = rig({ batchSize: 8 });
    const batch = samples(1, 8);
    batch[5] = { ...batch[5]!, tag: "PEMEL.poisoned" };
    r.spool.append(batch);
    r.sink.rejectTags.add("PEMEL.poisoned");
    r.actor.start();
    await flush();
    expect(r.sink.stored.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 7, 8]);
    expect(r.spool.deadLetters).toHaveLength(1);
    expect(r.spool.deadLetters[0]?.samples.map((s) => s.seq)).toEqual([6]);
    expect(r.spool.deadLetters[0]?.reason).toContain("value out of range for PEMEL.poisoned");
    expect(r.spool.pending("historian")).toBe(0);
    expect(ctx(r)).toMatchObject({ delivered: 7, deadLettered: 1 });
    expect(state(r)).toBe("idle");
  });

  it("counts and logs samples the historian already holds with another value, and acks past them", async () => {
    const captured = captureLog();
    const r = rig({ batchSize: 8 }, captured.log);
    r.spool.append(samples(1, 3));
    r.actor.start();
    await flush();
    // The wall clock stepped back: the same (tag, time) again, two with other values, one the same.
    const again = samples(1, 3);
    again[0] = { ...again[0]!, value: 100 };
    again[2] = { ...again[2]!, value: 300 };
    r.spool.append(again);
    r.actor.send({ type: "SAMPLES_APPENDED" });
    await flush();
    expect(ctx(r)).toMatchObject({ delivered: 4, deadLettered: 0, conflicts: 2 });
    expect(r.spool.deadLetters.map((d) => d.samples.map((s) => s.seq))).toEqual([[4], [6]]);
    expect(r.spool.pending("historian")).toBe(0);
    const warned = captured.lines().filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ conflicts: 2 });
    expect(String(warned[0]?.msg)).toContain("PEMEL.current@1000 holds 1, this sample has 100");
    expect(state(r)).toBe("idle");
  });

  it("FLUSH drains the spool, then reaches flushed", async () => {
    const r = rig({ batchSize: 3, idleDelayMs: 60_000 });
    r.actor.start();
    await flush();
    r.spool.append(samples(1, 7));
    r.actor.send({ type: "FLUSH", deadlineMs: 5000 });
    await flush();
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(state(r)).toBe("flushed");
    expect(r.sink.stored).toHaveLength(7);
  });

  it("FLUSH gives up at the deadline when the historian stays down; the samples stay in the spool", async () => {
    const r = rig();
    r.actor.start();
    await flush();
    r.sink.unavailable = true;
    r.spool.append(samples(1, 5));
    r.actor.send({ type: "SAMPLES_APPENDED" });
    await flush();
    r.actor.send({ type: "FLUSH", deadlineMs: 2500 });
    await advance(r.clock, 2400, 100);
    expect(r.actor.getSnapshot().status).toBe("active");
    await advance(r.clock, 100, 100);
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(r.spool.pending("historian")).toBe(5);
  });

  it("FLUSH retries an unavailable historian at once instead of sleeping through its backoff", async () => {
    const r = rig();
    r.sink.unavailable = true;
    r.spool.append(samples(1, 3));
    r.actor.start();
    await advance(r.clock, 3500, 100); // open attempts at 0, 1000, 3000; next one due at 7000
    expect(state(r)).toBe("historianDown");
    r.sink.unavailable = false;
    r.actor.send({ type: "FLUSH", deadlineMs: 2000 });
    await flush();
    expect(r.actor.getSnapshot().status).toBe("done");
    expect(r.sink.stored).toHaveLength(3);
  });

  it("FLUSH stops at the deadline even in the middle of a slow write", async () => {
    const r = rig();
    r.sink.delay = () => takesTime(r.clock, 10_000, () => undefined);
    r.spool.append(samples(1, 2));
    r.actor.start();
    await flush();
    r.actor.send({ type: "FLUSH", deadlineMs: 1000 });
    await advance(r.clock, 1000, 100);
    expect(r.actor.getSnapshot().status).toBe("done");
  });
});

describe("deliverBatch", () => {
  it("isolates several rejected rows by halving, acking in spool order", async () => {
    const spool = new MemorySpool();
    const sink = new FakeSink("pg");
    const rows = samples(1, 10);
    rows[0] = { ...rows[0]!, tag: "X.bad" };
    rows[7] = { ...rows[7]!, tag: "X.bad" };
    spool.append(rows);
    sink.rejectTags.add("X.bad");
    const acks: number[] = [];
    const ack = spool.ack.bind(spool);
    spool.ack = (name, seq) => {
      acks.push(seq);
      ack(name, seq);
    };
    const { delivery, failure } = await deliverBatch(sink, spool, spool.readBatch("pg", 100));
    expect(failure).toBeUndefined();
    expect(delivery).toMatchObject({ delivered: 8, deadLettered: 2 });
    expect(spool.deadLetters.map((d) => d.samples[0]?.seq)).toEqual([1, 8]);
    expect(sink.stored.map((s) => s.seq)).toEqual([2, 3, 4, 5, 6, 7, 9, 10]);
    expect(acks).toEqual([...acks].sort((a, b) => a - b));
    expect(spool.cursors.get("pg")).toBe(10);
  });

  it("keeps conflicting samples as dead letters with the sink's reason, counted apart; replays are no-ops", async () => {
    const spool = new MemorySpool();
    const sink = new FakeSink("pg");
    spool.append(samples(1, 4));
    await deliverBatch(sink, spool, spool.readBatch("pg", 100));
    const later = samples(1, 4);
    later[1] = { ...later[1]!, value: 42 };
    spool.append(later);
    const { delivery, failure } = await deliverBatch(sink, spool, spool.readBatch("pg", 100));
    expect(failure).toBeUndefined();
    expect(delivery).toMatchObject({
      delivered: 3,
      deadLettered: 0,
      conflicts: 1,
      writes: 1,
      rejections: [],
    });
    expect(delivery.conflictReasons).toEqual(["PEMEL.current@2000 holds 2, this sample has 42"]);
    expect(spool.deadLetters).toEqual([
      {
        sink: "pg",
        samples: [expect.objectContaining({ seq: 6, value: 42 })],
        reason: delivery.conflictReasons[0],
      },
    ]);
    expect(spool.cursors.get("pg")).toBe(8);
    expect(sink.stored.map((s) => s.value)).toEqual([1, 2, 3, 4]);
  });

  it("returns what got through when the sink becomes unavailable in the middle of a split", async () => {
    const spool = new MemorySpool();
    const sink = new FakeSink("pg");
    const rows = samples(1, 4);
    rows[3] = { ...rows[3]!, tag: "X.bad" };
    spool.append(rows);
    sink.rejectTags.add("X.bad");
    const write = sink.write.bind(sink);
    let calls = 0;
    sink.write = async (batch) => {
      calls++;
      if (calls === 3) sink.unavailable = true; // after the first half went through
      return write(batch);
    };
    const { delivery, failure } = await deliverBatch(sink, spool, spool.readBatch("pg", 100));
    expect(isPlantbridgeError(failure, ErrorCode.HISTORIAN_UNAVAILABLE)).toBe(true);
    expect(delivery.delivered).toBe(2);
    expect(spool.cursors.get("pg")).toBe(2);
    expect(spool.deadLetters).toEqual([]);
  });
});
