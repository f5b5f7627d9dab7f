/**
 * Pipelined delivery: batches overlap on their way to the sink, yet each is acked only after its
 * own commit and after every earlier batch — and a batch that committed after an earlier one
 * failed is never acked (the cursor stays before the failed one; the writes are idempotent, so the
 * next delivery from the cursor stores nothing twice).
 */
import { describe, expect, it } from "vitest";
import type { Sample, SinkWrite, SpooledSample } from "../../../adapters/types.ts";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import { deliverFromSpool } from "../../../machines/deliver-spool.ts";
import { runPipeline } from "../../../machines/pipeline.ts";
import { MemorySpool } from "./fakes.ts";

/** A promise settled from outside, to commit (or fail) batches in any order. */
function gate<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = () => new Promise((r) => setImmediate(r));

describe("runPipeline", () => {
  it("keeps `depth` writes in flight and settles in order, whatever order the writes finish in", async () => {
    const gates = [gate<string>(), gate<string>(), gate<string>(), gate<string>()];
    let taken = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    const settled: number[] = [];
    const run = runPipeline<number, string>({
      depth: 2,
      take: () => (taken < gates.length ? taken++ : undefined),
      write: async (i) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          return await (gates[i] as ReturnType<typeof gate<string>>).promise;
        } finally {
          inFlight--;
        }
      },
      settle: (i) => {
        settled.push(i);
      },
    });
    await flush();
    expect(taken).toBe(2);
    gates[1]?.resolve("b");
    await flush();
    expect(settled).toEqual([]); // batch 1 waits for batch 0
    gates[0]?.resolve("a");
    await flush();
    expect(settled).toEqual([0, 1]);
    gates[3]?.resolve("d");
    gates[2]?.resolve("c");
    expect(await run).toEqual({ settled: 4 });
    expect(settled).toEqual([0, 1, 2, 3]);
    expect(mostInFlight).toBe(2);
  });

  it("after a failed write settles nothing more, takes nothing more, and returns only once the writes in flight ended", async () => {
    const gates = [gate<string>(), gate<string>(), gate<string>()];
    let taken = 0;
    const settled: number[] = [];
    const ended: number[] = [];
    const run = runPipeline<number, string>({
      depth: 3,
      take: () => (taken < 10 ? taken++ : undefined),
      write: (i) => (gates[i] ?? gate<string>()).promise.finally(() => ended.push(i)),
      settle: (i) => {
        settled.push(i);
      },
    });
    await flush();
    gates[0]?.reject(new Error("refused"));
    let returned = false;
    void run.then(() => {
      returned = true;
    });
    await flush();
    expect(returned).toBe(false); // batches 1 and 2 are still on their way
    gates[2]?.resolve("committed");
    gates[1]?.resolve("committed");
    const outcome = await run;
    expect(outcome.settled).toBe(0);
    expect((outcome.failure as Error).message).toBe("refused");
    expect(settled).toEqual([]);
    expect(taken).toBe(3);
    expect(ended.sort()).toEqual([0, 1, 2]);
  });

  it("settles what is in flight when taking the next batch fails, then reports the failure", async () => {
    let taken = 0;
    const settled: number[] = [];
    const outcome = await runPipeline<number, number>({
      depth: 2,
      take: () => {
        if (taken === 2) throw new Error("spool read failed");
        return taken++;
      },
      write: async (i) => i,
      settle: (i) => {
        settled.push(i);
      },
    });
    expect(settled).toEqual([0, 1]);
    expect(outcome.settled).toBe(2);
    expect((outcome.failure as Error).message).toBe("spool read failed");
  });
});

function samples(count: number): Sample[] {
  return Array.from({ length: count }, (_, i) => ({
    tag: "PEMEL.current",
    time: (i + 1) * 1000,
    value: i,
    quality: "good",
  }));
}

/** A sink whose writes wait for the test to commit or refuse them, batch by batch (by first seq). */
function gatedSink() {
  const pending = new Map<number, ReturnType<typeof gate<SinkWrite>>>();
  const written: number[][] = [];
  return {
    name: "historian",
    pipelineDepth: 2,
    written,
    write(batch: readonly SpooledSample[]): Promise<SinkWrite> {
      written.push(batch.map((s) => s.seq));
      const g = gate<SinkWrite>();
      pending.set(batch[0]?.seq ?? 0, g);
      return g.promise;
    },
    commit(firstSeq: number) {
      pending.get(firstSeq)?.resolve({ conflicts: [] });
    },
    refuse(firstSeq: number, code: ErrorCode = ErrorCode.HISTORIAN_UNAVAILABLE) {
      pending.get(firstSeq)?.reject(new PlantbridgeError(code, "refused"));
    },
  };
}

describe("deliverFromSpool", () => {
  it("reads ahead while a batch is on its way and acks each batch in spool order after its commit", async () => {
    const spool = new MemorySpool();
    spool.append(samples(9));
    const sink = gatedSink();
    const acks: number[] = [];
    const ack = spool.ack.bind(spool);
    spool.ack = (name, seq) => {
      acks.push(seq);
      ack(name, seq);
    };
    const run = deliverFromSpool({
      sink,
      spool,
      first: spool.readBatch("historian", 3),
      batchSize: 3,
      maxBatches: 16,
    });
    await flush();
    expect(sink.written).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    sink.commit(4); // the second batch commits first: not acked before the first
    await flush();
    expect(acks).toEqual([]);
    sink.commit(1);
    await flush();
    expect(acks).toEqual([3, 6]);
    expect(sink.written).toHaveLength(3);
    sink.commit(7);
    const outcome = await run;
    expect(outcome.failure).toBeUndefined();
    expect(outcome.delivery).toMatchObject({ delivered: 9, writes: 3 });
    expect(acks).toEqual([3, 6, 9]);
  });

  it("never acks a batch that committed after an earlier batch failed: the cursor stays before the failure", async () => {
    const spool = new MemorySpool();
    spool.append(samples(6));
    const sink = gatedSink();
    const run = deliverFromSpool({
      sink,
      spool,
      first: spool.readBatch("historian", 3),
      batchSize: 3,
      maxBatches: 16,
    });
    await flush();
    sink.commit(4); // the second batch commits ...
    await flush();
    sink.refuse(1); // ... the first fails
    const outcome = await run;
    expect(outcome.failure).toBeInstanceOf(PlantbridgeError);
    expect(outcome.delivery.delivered).toBe(0);
    expect(spool.cursors.get("historian") ?? 0).toBe(0);
  });

  it("acks the first batch and stops when the second one fails", async () => {
    const spool = new MemorySpool();
    spool.append(samples(9));
    const sink = gatedSink();
    const run = deliverFromSpool({
      sink,
      spool,
      first: spool.readBatch("historian", 3),
      batchSize: 3,
      maxBatches: 16,
    });
    await flush();
    sink.refuse(4);
    sink.commit(1);
    await flush();
    // The first batch's ack made room for the third before the second's failure was seen; the
    // delivery ends only after the third's write ended too — and does not ack it.
    expect(sink.written).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    sink.commit(7);
    const outcome = await run;
    expect(outcome.failure).toBeInstanceOf(PlantbridgeError);
    expect(spool.cursors.get("historian")).toBe(3);
  });

  it("a rejected batch is isolated in its turn, after the batches before it and before those after it", async () => {
    const spool = new MemorySpool();
    spool.append(samples(6));
    const order: string[] = [];
    const sink = {
      name: "historian",
      pipelineDepth: 2,
      async write(batch: readonly SpooledSample[]): Promise<SinkWrite> {
        if (batch.some((s) => s.seq === 2))
          throw new PlantbridgeError(ErrorCode.HISTORIAN_REJECTED, "bad row");
        return { conflicts: [] };
      },
    };
    const ack = spool.ack.bind(spool);
    spool.ack = (name, seq) => {
      order.push(`ack ${seq}`);
      ack(name, seq);
    };
    const deadLetter = spool.deadLetter.bind(spool);
    spool.deadLetter = (name, rows, reason) => {
      order.push(`dead ${rows.map((r) => r.seq).join(",")}`);
      deadLetter(name, rows, reason);
    };
    const outcome = await deliverFromSpool({
      sink,
      spool,
      first: spool.readBatch("historian", 3),
      batchSize: 3,
      maxBatches: 16,
    });
    expect(outcome.failure).toBeUndefined();
    // (The fake spool's deadLetter acks the dead letter itself, as the real one does.)
    expect(order).toEqual(["ack 1", "dead 2", "ack 2", "ack 3", "ack 6"]);
    expect(outcome.delivery).toMatchObject({ delivered: 5, deadLettered: 1 });
  });
});
