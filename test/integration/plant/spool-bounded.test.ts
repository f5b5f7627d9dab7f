import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningPlant } from "../../../bin/runtime/start-plant.ts";
import { startTcpProxy, type TcpProxy } from "../../../simulators/network/tcp-proxy.ts";
import {
  captureLog,
  historianArrival,
  missingSlots,
  outOfTimeOrder,
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
 * The spool is bounded: sized for 10 storage cycles, with the historian cut for longer than that,
 * it drops its oldest samples. The drop is exact (appended − delivered − maxSamples), counted in the
 * spool's stats, logged once per append, and after the historian is back exactly the newest samples
 * are stored: one gap of whole dropped cycles, none inside the kept range. This is the one fault that
 * loses samples by definition: the operator sized the spool for a shorter outage.
 */
describe("a full spool drops its oldest samples, counted and logged", () => {
  const periodMs = 250;
  const keptCycles = 10;
  const maxSamples = keptCycles * samplesPerCycle;
  const droppedCyclesWanted = 6;
  const sink = "postgres";
  const captured = captureLog("info");
  let proxy: TcpProxy;
  let h: PlantHarness;

  beforeAll(async () => {
    const target = new URL(testDatabaseUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    h = await startPlantHarness({
      name: "spool-bounded",
      historianUrl: testDatabaseUrlVia(proxy.port),
      log: captured.log,
      patch: (plant) => ({
        ...plant,
        storage: { ...plant.storage, periodMs, spool: { ...plant.storage.spool, maxSamples } },
      }),
    });
  });

  afterAll(async () => {
    await h?.close();
    await proxy?.close();
  });

  it("drops exactly the overflow, oldest first, and stores the newest after the outage", async () => {
    const running: RunningPlant = await h.startPlant();
    const spoolStats = () => {
      const spool = running.health().spool;
      if (!("pending" in spool)) throw new Error(`spool stats unreadable: ${spool.error}`);
      return spool;
    };
    await waitFor("four cycles delivered and the forwarder idle", () => {
      const health = running.health();
      return (
        (health.sinks[sink]?.delivered ?? 0) >= 4 * samplesPerCycle &&
        spoolStats().pending[sink] === 0 &&
        health.sinks[sink]?.state === "idle"
      );
    });
    proxy.sever();
    const deliveredAtCut = running.health().sinks[sink]?.delivered ?? 0;

    await waitFor(
      `${droppedCyclesWanted} cycles dropped`,
      () => spoolStats().dropped >= droppedCyclesWanted * samplesPerCycle,
    );
    // While cut: the spool holds exactly maxSamples, the rest of what was appended is dropped.
    const during = running.health();
    const duringSpool = spoolStats();
    const appended = during.storage.cycles * samplesPerCycle - during.storage.unstored;
    expect(duringSpool.held).toBe(maxSamples);
    expect(duringSpool.pending[sink]).toBe(maxSamples);
    expect(duringSpool.dropped).toBe(appended - deliveredAtCut - maxSamples);
    expect(during.sinks[sink]?.delivered).toBe(deliveredAtCut);
    // ... and the file holds the newest maxSamples: the last seqs handed out, none missing, right
    // after the dropped ones (the oldest undelivered), in time order, whole cycles.
    const file = readSpoolFile(h.plant.storage.spool.path);
    const held = file.undelivered.map((s) => s.seq);
    expect(held.length).toBe(maxSamples);
    expect(held).toEqual(Array.from({ length: maxSamples }, (_, i) => file.lastSeq - maxSamples + 1 + i));
    expect(held[0]).toBe(deliveredAtCut + file.dropped + 1);
    expect(outOfTimeOrder(file.undelivered)).toBe(0);
    const heldTimes = [...new Set(file.undelivered.map((s) => s.time))];
    expect(heldTimes.length).toBe(keptCycles);
    const droppedCyclesAtSnapshot = file.dropped / samplesPerCycle;

    proxy.restore();
    await waitFor("the spool drained after the outage", () => spoolStats().pending[sink] === 0, 45_000);
    const drainedAt = running.health().storage.cycles;
    await waitFor("two more cycles delivered", () => {
      return running.health().storage.cycles >= drainedAt + 2 && spoolStats().pending[sink] === 0;
    });
    await h.stopPlant();

    const final = running.health();
    if (!("dropped" in final.spool)) throw new Error("no final spool stats");
    const dropped = final.spool.dropped;
    const storageCycles = final.storage.cycles;
    const stored = await storedSamples(h.schema);
    const cycles = [...byCycle(stored).entries()];
    const times = cycles.map(([t]) => t);
    const arrival = await historianArrival(h.schema);
    const spoolFile = readSpoolFile(h.plant.storage.spool.path);
    const served = pemelStorageReads(h.pemel);
    const warnings = captured.lines().filter((l) => String(l.msg).startsWith("spool full"));

    // Whole cycles were dropped (33 samples per append, maxSamples a multiple of 33) ...
    expect(dropped % samplesPerCycle).toBe(0);
    const droppedCycles = dropped / samplesPerCycle;
    expect(droppedCycles).toBeGreaterThanOrEqual(droppedCyclesWanted);
    expect(spoolFile.dropped).toBe(dropped);
    // ... stored == appended − dropped, exactly; nothing twice.
    expect(spoolFile.lastSeq).toBe(storageCycles * samplesPerCycle);
    expect(stored.length).toBe(storageCycles * samplesPerCycle - dropped);
    expect(final.sinks[sink]?.delivered).toBe(stored.length);
    expect(arrival.rows).toBe(arrival.keys);
    expect(arrival.outOfOrder).toBe(0);
    for (const [time, cycle] of cycles) expect(cycle.size, `samples at ${time}`).toBe(samplesPerCycle);
    // The dropped cycles are the oldest of the outage, the kept ones the newest: of the cycles the
    // file held at the snapshot, the oldest (dropped − dropped then) went later, all others are stored.
    const storedTimes = new Set(times);
    const droppedLater = Math.min(heldTimes.length, droppedCycles - droppedCyclesAtSnapshot);
    expect(heldTimes.slice(0, droppedLater).filter((t) => storedTimes.has(t))).toEqual([]);
    expect(heldTimes.slice(droppedLater).filter((t) => !storedTimes.has(t))).toEqual([]);
    // In time: the cycles before the cut, one hole of the dropped cycles, then no hole (a slot the
    // storage machine skipped because a cycle overran its period is no cycle; it is counted).
    const beforeCut = deliveredAtCut / samplesPerCycle;
    const overruns = final.storage.overruns;
    expect(cycles.slice(0, beforeCut).every(([t]) => t < (heldTimes[0] ?? 0))).toBe(true);
    expect(missingSlots(times.slice(0, beforeCut), periodMs)).toBeLessThanOrEqual(overruns);
    expect(missingSlots(times.slice(beforeCut), periodMs)).toBeLessThanOrEqual(overruns);
    const hole = missingSlots(times.slice(beforeCut - 1, beforeCut + 1), periodMs);
    expect(hole).toBeGreaterThanOrEqual(droppedCycles);
    expect(hole).toBeLessThanOrEqual(droppedCycles + overruns);
    if (overruns === 0) expect(scheduleGaps(times, periodMs).length).toBe(1);
    // Logged once per append that dropped: one warning per dropped cycle, counting to the total.
    // Samples the full spool deleted while the write that carried them was on the wire are counted
    // when deleted and taken back (logged) when the sink acks them: they arrived.
    const rescued = captured
      .lines()
      .filter((l) => l.rescued !== undefined)
      .reduce((n, l) => n + Number(l.rescued), 0);
    expect(warnings.length * samplesPerCycle).toBe(dropped + rescued);
    expect(warnings.map((w) => w.dropped)).toEqual(warnings.map(() => samplesPerCycle));
    // Replayed in order, the log's counts add up to the spool's.
    let total = 0;
    for (const line of captured.lines()) {
      if (warnings.includes(line)) total += Number(line.dropped);
      else if (line.rescued !== undefined) total -= Number(line.rescued);
      else continue;
      expect(line.droppedTotal).toBe(total);
    }
    expect(total).toBe(dropped);

    // What was kept equals what PEMEL served, read for read: every good record holds a read served
    // for its cycle; a bad record is a start-up cycle (before PEMEL's link was up) or one the storage
    // deadline cut on a busy machine (said so, counted); the reads no record holds are those of the
    // dropped cycles, all served inside the hole, and those answered too late for a cut cycle.
    const account = accountPemel(cycles, served, periodMs);
    const good = account.good;
    expect(account.startupBad.every((t) => t < (good[0] ?? 0))).toBe(true);
    expect(account.otherBad).toEqual([]);
    expect(account.deadlineCuts.length).toBeLessThanOrEqual(final.storage.lateUnits);
    expect(account.unexplainedRecords).toEqual([]);
    expect(account.paired.length).toBe(good.length);
    const holeFrom = times[beforeCut - 1] ?? 0;
    const holeTo = times[beforeCut] ?? 0;
    expect(account.unexplainedReads.filter((r) => r.time < holeFrom || r.time >= holeTo)).toEqual([]);
    expect(account.unexplainedReads.length).toBe(droppedCycles);

    const duplicated = arrival.rows - arrival.keys + spoolFile.duplicates;
    printFaultFigures({
      fault: "spool-full",
      served: served.length,
      stored: good.length,
      // By definition: the spool was sized for 10 cycles, the outage lasted longer.
      lost: served.length - good.length,
      duplicated,
      maxSamples,
      droppedSamples: dropped,
      droppedCycles,
      spoolFullWarnings: warnings.length,
      droppedThenDelivered: rescued,
      storageOverruns: final.storage.overruns,
      deadlineCuts: account.deadlineCuts.length,
      answeredTooLate: account.answeredTooLate.length,
    });
    expect(served.length - good.length).toBe(droppedCycles + account.answeredTooLate.length);
    expect(duplicated).toBe(0);
  }, 60_000);
});
