import { afterEach, describe, expect, it, vi } from "vitest";
import { createTransactionQueue } from "../../../adapters/modbus/transaction-queue.ts";
import { ErrorCode, isPlantbridgeError, PlantbridgeError } from "../../../lib/errors.ts";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("transaction queue", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps one transaction in flight and runs the rest in order", async () => {
    const queue = createTransactionQueue({ timeoutMs: 10_000, unit: "U", onTimeout: () => {} });
    const started: number[] = [];
    const gates = [deferred<number>(), deferred<number>(), deferred<number>()];
    const results = gates.map((gate, i) =>
      queue.run(`job ${i}`, () => {
        started.push(i);
        return gate.promise;
      }),
    );
    expect(started).toEqual([0]);
    expect(queue.size).toBe(3);
    gates[0]!.resolve(10);
    await results[0];
    expect(started).toEqual([0, 1]);
    gates[1]!.reject(new Error("device said no"));
    await expect(results[1]).rejects.toThrow("device said no");
    expect(started).toEqual([0, 1, 2]);
    gates[2]!.resolve(30);
    await expect(results[2]).resolves.toBe(30);
    expect(queue.size).toBe(0);
  });

  it("a transaction that outlives the timeout rejects with PB_ERR_MODBUS_TIMEOUT and tells the owner once", async () => {
    vi.useFakeTimers();
    const timeouts: PlantbridgeError[] = [];
    const queue = createTransactionQueue({
      timeoutMs: 500,
      unit: "PEMEL",
      onTimeout: (e) => timeouts.push(e),
    });
    const never = new Promise<never>(() => {});
    const result = queue.run("read holding 32865+14", () => never);
    const outcome = result.then(
      () => "resolved",
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(499);
    expect(timeouts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(isPlantbridgeError(error, ErrorCode.MODBUS_TIMEOUT)).toBe(true);
    expect((error as PlantbridgeError).origin.unit).toBe("PEMEL");
    expect(timeouts).toHaveLength(1);
  });

  it("failAll rejects the one in flight and the waiting ones, and refuses new work", async () => {
    const queue = createTransactionQueue({ timeoutMs: 10_000, unit: "U", onTimeout: () => {} });
    const late = deferred<string>();
    let secondStarted = false;
    const first = queue.run("first", () => late.promise);
    const second = queue.run("second", async () => {
      secondStarted = true;
      return "second";
    });
    const lost = new PlantbridgeError(ErrorCode.LINK_LOST, "socket closed", { unit: "U" });
    queue.failAll(lost);
    await expect(first).rejects.toBe(lost);
    await expect(second).rejects.toBe(lost);
    await expect(queue.run("third", async () => "third")).rejects.toBe(lost);
    // a late answer to the first changes nothing and starts nothing
    late.resolve("late");
    await Promise.resolve();
    expect(secondStarted).toBe(false);
    expect(queue.size).toBe(0);
  });

  it("a job that throws synchronously rejects and the queue moves on", async () => {
    const queue = createTransactionQueue({ timeoutMs: 10_000, unit: "U", onTimeout: () => {} });
    const bad = queue.run("bad", () => {
      throw new Error("boom");
    });
    await expect(bad).rejects.toThrow("boom");
    await expect(queue.run("good", async () => 1)).resolves.toBe(1);
  });
});
