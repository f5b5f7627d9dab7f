import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SpoolStats } from "../../../adapters/types.ts";
import type { RunningPlant } from "../../../bin/runtime/start-plant.ts";
import { startTcpProxy, type TcpProxy } from "../../../simulators/network/tcp-proxy.ts";
import {
  historianArrival,
  missingSlots,
  outOfTimeOrder,
  pemelGood,
  pemelStorageReads,
  printFaultFigures,
  readSpoolFile,
  samplesPerCycle,
} from "../../support/historian-faults.ts";
import { testDatabaseUrl } from "../../support/pg-schema.ts";
import {
  byCycle,
  type PlantHarness,
  startPlantHarness,
  storedSamples,
  testDatabaseUrlVia,
  waitFor,
} from "../../support/plant-harness.ts";
import { accountPemel, type PemelAccount } from "../../support/served-reads.ts";

/**
 * The SIGTERM path (`running.stop()`): storage stops, the forwarder gets `shutdownFlushMs` to drain
 * the spool, the links and the spool close. With the historian back in time the final flush
 * delivers everything; with the historian hung it gives up at its deadline, stop returns, and the
 * undelivered samples wait in the spool file for the next start — which delivers them: nothing
 * lost, nothing twice across the restart.
 */
const periodMs = 250;
const sink = "postgres";

function spoolOf(running: RunningPlant): SpoolStats {
  const spool = running.health().spool;
  if (!("pending" in spool)) throw new Error(`spool stats unreadable: ${spool.error}`);
  return spool;
}

/**
 * Stops the plant; fails with a message (not a test timeout) when stop() never returns.
 * Resolves with how long it took (reported, not asserted).
 */
async function stopWithin(h: PlantHarness, ms: number): Promise<number> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stop() did not return within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([h.stopPlant(), hung]);
    return Date.now() - started;
  } finally {
    clearTimeout(timer);
  }
}

async function startBehindProxy(
  name: string,
  shutdownFlushMs: number,
): Promise<{ proxy: TcpProxy; h: PlantHarness }> {
  const target = new URL(testDatabaseUrl);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const h = await startPlantHarness({
    name,
    historianUrl: testDatabaseUrlVia(proxy.port),
    shutdownFlushMs,
    patch: (plant) => ({ ...plant, storage: { ...plant.storage, periodMs } }),
  });
  return { proxy, h };
}

/** What the historian holds against what storage took and PEMEL served. */
async function tally(h: PlantHarness, storageCycles: number) {
  const cycles = [...byCycle(await storedSamples(h.schema)).entries()];
  const served = pemelStorageReads(h.pemel);
  const good = cycles.filter(([, c]) => pemelGood(c));
  const account = accountPemel(cycles, served, periodMs);
  const arrival = await historianArrival(h.schema);
  const spoolFile = readSpoolFile(h.plant.storage.spool.path);
  return {
    cycles,
    served,
    good,
    account,
    arrival,
    spoolFile,
    duplicated:
      arrival.rows - arrival.keys + spoolFile.duplicates + Math.max(0, cycles.length - storageCycles),
  };
}

/**
 * Every good PEMEL record is a read PEMEL served; every other cycle is bad at a run's start (the
 * link not up yet) or was cut by the storage deadline on a busy machine, said so and counted; every
 * served read is a good record or was answered too late for such a cut cycle.
 */
function expectServedStored(account: PemelAccount, lateUnits: number): void {
  expect(account.otherBad).toEqual([]);
  expect(account.deadlineCuts.length).toBeLessThanOrEqual(lateUnits);
  expect(account.unexplainedRecords).toEqual([]);
  expect(account.unexplainedReads).toEqual([]);
  expect(account.paired.length).toBe(account.good.length);
}

describe("shutdown with the historian healthy", () => {
  let proxy: TcpProxy;
  let h: PlantHarness;

  beforeAll(async () => {
    ({ proxy, h } = await startBehindProxy("shutdown-healthy", 10_000));
  });

  afterAll(async () => {
    await h?.close();
    await proxy?.close();
  });

  it("the final flush delivers the backlog: nothing pending after stop", async () => {
    const running = await h.startPlant();
    await waitFor(
      "two cycles delivered",
      () => (running.health().sinks[sink]?.delivered ?? 0) >= 2 * samplesPerCycle,
    );
    // A backlog to flush: cut the historian for a few cycles, then bring it back and stop at once,
    // while the forwarder still sits in its retry backoff.
    proxy.sever();
    await waitFor(
      "four cycles waiting in the spool",
      () => (spoolOf(running).pending[sink] ?? 0) >= 4 * samplesPerCycle,
    );
    proxy.restore();
    const pendingAtStop = spoolOf(running).pending[sink] ?? 0;
    const stopMs = await stopWithin(h, 30_000);

    const final = running.health();
    const storageCycles = final.storage.cycles;
    const t = await tally(h, storageCycles);
    printFaultFigures({
      fault: "shutdown-flush-healthy-historian",
      served: t.served.length,
      stored: t.good.length,
      lost: t.served.length - t.good.length + Math.max(0, storageCycles - t.cycles.length),
      duplicated: t.duplicated,
      pendingAtStop,
      pendingAfterStop: t.spoolFile.undelivered.length,
      storageCycles,
      storageOverruns: final.storage.overruns,
      deadlineCuts: t.account.deadlineCuts.length,
      answeredTooLate: t.account.answeredTooLate.length,
      stopMs,
    });

    expect(pendingAtStop).toBeGreaterThanOrEqual(4 * samplesPerCycle);
    expect(final.spool).toMatchObject({ pending: { [sink]: 0 }, dropped: 0, deadLettered: 0 });
    expect(t.spoolFile.undelivered).toEqual([]);
    expect(t.spoolFile.lastSeq).toBe(storageCycles * samplesPerCycle);
    expect(t.cycles.length).toBe(storageCycles);
    for (const [time, cycle] of t.cycles) expect(cycle.size, `samples at ${time}`).toBe(samplesPerCycle);
    // No hole in the schedule (a slot skipped because a cycle overran its period is counted, no cycle).
    expect(
      missingSlots(
        t.cycles.map(([time]) => time),
        periodMs,
      ),
    ).toBeLessThanOrEqual(final.storage.overruns);
    expectServedStored(t.account, final.storage.lateUnits);
    expect(t.arrival.outOfOrder).toBe(0);
    expect(t.duplicated).toBe(0);
  });
});

describe("shutdown with the historian hung, then a restart", () => {
  const shutdownFlushMs = 2000;
  let proxy: TcpProxy;
  let h: PlantHarness;

  beforeAll(async () => {
    ({ proxy, h } = await startBehindProxy("shutdown-stalled", shutdownFlushMs));
  });

  afterAll(async () => {
    await h?.close();
    await proxy?.close();
  });

  it("stop gives up at the flush deadline, keeps the rest in the spool, and the next start delivers it", async () => {
    const first = await h.startPlant();
    await waitFor(
      "two cycles delivered",
      () => (first.health().sinks[sink]?.delivered ?? 0) >= 2 * samplesPerCycle,
    );
    // A silent network: connections stay open, nothing passes, no reset.
    proxy.stall();
    await waitFor(
      "six cycles waiting in the spool",
      () => (spoolOf(first).pending[sink] ?? 0) >= 6 * samplesPerCycle,
    );
    const stopMs = await stopWithin(h, 30_000);

    const firstFinal = first.health();
    const left = firstFinal.spool;
    if (!("pending" in left)) throw new Error("no final spool stats");
    const leftInSpool = left.pending[sink] ?? 0;
    // The file holds them: every sample after the last delivered one, in time order, whole cycles.
    const file = readSpoolFile(h.plant.storage.spool.path);
    expect(leftInSpool).toBeGreaterThanOrEqual(6 * samplesPerCycle);
    expect(file.undelivered.length).toBe(leftInSpool);
    expect(leftInSpool % samplesPerCycle).toBe(0);
    expect(file.lastSeq).toBe(firstFinal.storage.cycles * samplesPerCycle);
    expect(firstFinal.sinks[sink]?.delivered).toBe(file.lastSeq - leftInSpool);
    expect(file.undelivered.map((s) => s.seq)).toEqual(
      Array.from({ length: leftInSpool }, (_, i) => file.cursor + 1 + i),
    );
    expect(outOfTimeOrder(file.undelivered)).toBe(0);
    const lastOfFirstRun = Math.max(...file.undelivered.map((s) => s.time));

    // The historian comes back; the plant starts again on the same spool and schema.
    proxy.restore();
    const second = await h.startPlant();
    await waitFor("the spool drained after the restart", () => spoolOf(second).pending[sink] === 0, 30_000);
    await waitFor("two more cycles delivered", () => {
      return second.health().storage.cycles >= 2 && spoolOf(second).pending[sink] === 0;
    });
    await stopWithin(h, 30_000);

    const secondFinal = second.health();
    const storageCycles = firstFinal.storage.cycles + secondFinal.storage.cycles;
    const t = await tally(h, storageCycles);
    printFaultFigures({
      fault: "shutdown-historian-hung-then-restart",
      served: t.served.length,
      stored: t.good.length,
      lost: t.served.length - t.good.length + Math.max(0, storageCycles - t.cycles.length),
      duplicated: t.duplicated,
      leftInSpoolAtStop: leftInSpool,
      deliveredAfterRestart: secondFinal.sinks[sink]?.delivered ?? 0,
      storageCycles,
      shutdownFlushMs,
      storageOverruns: firstFinal.storage.overruns + secondFinal.storage.overruns,
      deadlineCuts: t.account.deadlineCuts.length,
      answeredTooLate: t.account.answeredTooLate.length,
      stopMs,
    });

    expect(secondFinal.spool).toMatchObject({ pending: { [sink]: 0 }, dropped: 0, deadLettered: 0 });
    expect(t.spoolFile.undelivered).toEqual([]);
    expect(t.spoolFile.lastSeq).toBe(storageCycles * samplesPerCycle);
    // The second run delivered what the first left plus its own cycles.
    expect(secondFinal.sinks[sink]?.delivered).toBe(
      leftInSpool + secondFinal.storage.cycles * samplesPerCycle,
    );
    expect(t.cycles.length).toBe(storageCycles);
    for (const [time, cycle] of t.cycles) expect(cycle.size, `samples at ${time}`).toBe(samplesPerCycle);
    // Two runs, each without a hole (but for slots skipped by counted overruns): the first run's
    // cycles end where the spool file's did.
    const times = t.cycles.map(([time]) => time);
    const firstRun = times.filter((time) => time <= lastOfFirstRun);
    const secondRun = times.filter((time) => time > lastOfFirstRun);
    expect(firstRun.length).toBe(firstFinal.storage.cycles);
    expect(secondRun.length).toBe(secondFinal.storage.cycles);
    expect(missingSlots(firstRun, periodMs)).toBeLessThanOrEqual(firstFinal.storage.overruns);
    expect(missingSlots(secondRun, periodMs)).toBeLessThanOrEqual(secondFinal.storage.overruns);
    expectServedStored(t.account, firstFinal.storage.lateUnits + secondFinal.storage.lateUnits);
    expect(t.arrival.outOfOrder).toBe(0);
    expect(t.duplicated).toBe(0);
  });
});
