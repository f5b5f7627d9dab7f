import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
  scheduleGaps,
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
import { accountPemel } from "../../support/served-reads.ts";

/**
 * "A database restart must lose no sample and duplicate none": the historian is cut (a TCP proxy
 * resets every connection and refuses new ones) for 30 s while the plant stores every second.
 * Control and storage go on, the spool grows by one cycle per second, and once the database is
 * back every cycle the storage machine took is in PostgreSQL, once, in order, equal to what PEMEL
 * served.
 */
describe("historian down for 30 s while storing every second", () => {
  const periodMs = 1000;
  const outageMs = 30_000;
  const sink = "postgres";
  let proxy: TcpProxy;
  let h: PlantHarness;

  beforeAll(async () => {
    const target = new URL(testDatabaseUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    h = await startPlantHarness({
      name: "historian-outage",
      historianUrl: testDatabaseUrlVia(proxy.port),
      patch: (plant) => ({ ...plant, storage: { ...plant.storage, periodMs } }),
    });
  });

  afterAll(async () => {
    await h?.close();
    await proxy?.close();
  });

  it("keeps running, spools 33 samples per cycle, then stores every cycle exactly once, in order", async () => {
    const running: RunningPlant = await h.startPlant();
    const pending = () => {
      const spool = running.health().spool;
      return "pending" in spool ? (spool.pending[sink] ?? -1) : -1;
    };
    // Cut right after a delivery, while the forwarder idles: nothing is in flight.
    await waitFor("three cycles delivered and the forwarder idle", () => {
      const health = running.health();
      return (
        (health.sinks[sink]?.delivered ?? 0) >= 3 * samplesPerCycle &&
        pending() === 0 &&
        health.sinks[sink]?.state === "idle"
      );
    });
    const atCut = running.health();
    const servedAtCut = pemelStorageReads(h.pemel).length;
    const evaluationsAtCut = Object.values(atCut.loops)[0]?.evaluations ?? 0;
    proxy.sever();
    const cutAt = Date.now();

    // While the historian is down: sample the health four times a second. The outage is the 30 s
    // under test and at least 25 storage cycles and control evaluations (a busy machine may take
    // fewer in 30 s, a slot skipped by an overrun counts none): it ends on those events, not on
    // the clock alone.
    const seen: { cycles: number; appended: number; pending: number; state: string; retries: number }[] = [];
    let spoolMidOutage: ReturnType<typeof readSpoolFile> | undefined;
    const outageDone = () => {
      const health = running.health();
      return (
        Date.now() - cutAt >= outageMs &&
        health.storage.cycles - atCut.storage.cycles >= 25 &&
        (Object.values(health.loops)[0]?.evaluations ?? 0) - evaluationsAtCut >= 25
      );
    };
    while (!outageDone()) {
      if (Date.now() - cutAt > 4 * outageMs)
        throw new Error("25 storage cycles and control evaluations never came");
      const health = running.health();
      seen.push({
        cycles: health.storage.cycles,
        // Samples taken but still on their way to the spool are not pending yet.
        appended: health.storage.cycles * samplesPerCycle - health.storage.unstored,
        pending: pending(),
        state: health.sinks[sink]?.state ?? "missing",
        retries: health.sinks[sink]?.retries ?? 0,
      });
      if (spoolMidOutage === undefined && health.storage.cycles - atCut.storage.cycles >= 12) {
        spoolMidOutage = readSpoolFile(h.plant.storage.spool.path);
      }
      await sleep(250);
    }
    const atRestore = running.health();
    const servedAtRestore = pemelStorageReads(h.pemel).length;
    proxy.restore();

    // Down, retrying, and only the spool grows: by exactly 33 samples per storage cycle.
    expect(seen.some((s) => s.state === "historianDown")).toBe(true);
    expect(atRestore.sinks[sink]?.retries ?? 0).toBeGreaterThanOrEqual(3);
    expect(atRestore.sinks[sink]?.lastError ?? "").toMatch(/unavailable/);
    expect(atRestore.sinks[sink]?.delivered).toBe(atCut.sinks[sink]?.delivered);
    const appendedAtCut = atCut.storage.cycles * samplesPerCycle - atCut.storage.unstored;
    for (const s of seen) expect(s.pending).toBe(s.appended - appendedAtCut);
    const cyclesDown = atRestore.storage.cycles - atCut.storage.cycles;
    expect(cyclesDown).toBeGreaterThanOrEqual(25);
    const spoolPeakPending = Math.max(...seen.map((s) => s.pending));
    expect(spoolPeakPending).toBeGreaterThanOrEqual(25 * samplesPerCycle);
    // Storage and control kept running: PEMEL served a storage read every cycle, the loop evaluated.
    expect(servedAtRestore - servedAtCut).toBeGreaterThanOrEqual(cyclesDown - 1);
    expect((Object.values(atRestore.loops)[0]?.evaluations ?? 0) - evaluationsAtCut).toBeGreaterThanOrEqual(
      25,
    );
    expect(atRestore.units.PEMEL?.state).toBe("connected");
    // The spool file itself holds the backlog in seq order = time order.
    if (spoolMidOutage === undefined) throw new Error("the spool was not read during the outage");
    expect(spoolMidOutage.undelivered.length).toBeGreaterThanOrEqual(10 * samplesPerCycle);
    expect(spoolMidOutage.undelivered.length % samplesPerCycle).toBe(0);
    expect(outOfTimeOrder(spoolMidOutage.undelivered)).toBe(0);

    // Back: the backlog drains (the forwarder's backoff may wait up to its 30 s cap to notice).
    await waitFor("the spool drained after the outage", () => pending() === 0, 75_000);
    await waitFor("two more cycles delivered", () => {
      const health = running.health();
      return health.storage.cycles >= atRestore.storage.cycles + 2 && pending() === 0;
    });
    await h.stopPlant();

    const final = running.health();
    const cycles = [...byCycle(await storedSamples(h.schema)).entries()];
    const storageCycles = final.storage.cycles;
    const served = pemelStorageReads(h.pemel);
    const good = cycles.filter(([, c]) => pemelGood(c));
    // Only cycles before PEMEL's link first came up may hold a bad PEMEL read (none served).
    const firstGood = cycles.findIndex(([, c]) => pemelGood(c));
    const startupBad = firstGood;
    const spoolFile = readSpoolFile(h.plant.storage.spool.path);
    const arrival = await historianArrival(h.schema);
    const duplicated =
      arrival.rows - arrival.keys + spoolFile.duplicates + Math.max(0, cycles.length - storageCycles);

    printFaultFigures({
      fault: "historian-down-30s",
      served: served.length,
      stored: good.length,
      lost: served.length - good.length + Math.max(0, storageCycles - cycles.length),
      duplicated,
      spoolPeakPending,
      storageCycles,
      storedCycles: cycles.length,
      cyclesWhileDown: cyclesDown,
      forwarderRetries: final.sinks[sink]?.retries ?? 0,
      startupBadPemelCycles: startupBad,
      deadlineCuts: accountPemel(cycles, served, periodMs).deadlineCuts.length,
      storageOverruns: final.storage.overruns,
    });

    expect(final.storage.unstored).toBe(0);
    // Every cycle the storage machine took is stored, as the spool appended it, none twice.
    expect(cycles.length).toBe(storageCycles);
    expect(spoolFile.lastSeq).toBe(storageCycles * samplesPerCycle);
    expect(final.sinks[sink]?.delivered).toBe(storageCycles * samplesPerCycle);
    expect(spoolFile.undelivered).toEqual([]);
    expect(spoolFile.dropped).toBe(0);
    expect(spoolFile.deadLettered).toBe(0);
    expect(duplicated).toBe(0);
    for (const [time, cycle] of cycles) expect(cycle.size, `samples at ${time}`).toBe(samplesPerCycle);
    expect(arrival.rows).toBe(storageCycles * samplesPerCycle);
    // ... equal to what PEMEL served, read for read: every good record holds the read served for
    // its cycle; a bad one is a start-up cycle (PEMEL's link not up yet) or one the storage deadline
    // cut on a busy machine (said so, counted), whose read, if served, came too late.
    expect(startupBad).toBeGreaterThanOrEqual(0);
    const account = accountPemel(cycles, served, periodMs);
    expect(account.startupBad.every((t) => t < (account.good[0] ?? 0))).toBe(true);
    expect(account.otherBad).toEqual([]);
    expect(account.deadlineCuts.length).toBeLessThanOrEqual(final.storage.lateUnits);
    expect(account.unexplainedRecords).toEqual([]);
    expect(account.unexplainedReads).toEqual([]);
    expect(account.paired.length).toBe(good.length);
    expect(served.length).toBe(good.length + account.answeredTooLate.length);
    expect(storageCycles).toBe(good.length + account.startupBad.length + account.deadlineCuts.length);
    // ... and received in order: no gap in the 1-s grid (a slot the storage machine skipped because
    // a cycle overran its period is no cycle; it is counted, and none happen on an idle machine),
    // each cycle committed after the one before.
    const times = cycles.map(([t]) => t);
    for (const t of times) expect(t % periodMs).toBe(0);
    expect(missingSlots(times, periodMs)).toBeLessThanOrEqual(final.storage.overruns);
    if (final.storage.overruns === 0) expect(scheduleGaps(times, periodMs)).toEqual([]);
    expect(arrival.outOfOrder).toBe(0);
  }, 300_000);
});
