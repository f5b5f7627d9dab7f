import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningPlant } from "../../../bin/runtime/start-plant.ts";
import type { PlantHealth } from "../../../machines/plant-health.ts";
import {
  type PlantHarness,
  type StoredSample,
  startPlantHarness,
  storedSamples,
  waitFor,
} from "../../support/plant-harness.ts";
import { deadlineReason } from "../../support/served-reads.ts";
import {
  afterStorageRead,
  type CapturedLog,
  captureLog,
  controlEvaluations,
  decisionLines,
  duplicateRows,
  fastPlant,
  gridSlots,
  logLevel,
  missingSlots,
  printFigures,
  referenceSetpoint,
  type StoredCycle,
  spoolTotals,
  storedCycles,
  unitHealth,
  writesSince,
} from "../../support/unit-faults.ts";

/**
 * METH, the demand source, reboots and hangs under the running plant. Control follows only fresh
 * demands (never one from before the outage), writes the fail-safe exactly once when the demand is
 * gone for longer than its limit, holds it, and follows again when METH is back.
 *
 * Storage polls METH's three stored values here (`mode: poll`), so that each storage cycle is one
 * Read the METH simulator counts (`served.valueReads`): the figure to hold the stored cycles against.
 */

const storageMs = 1_000;
const failSafeMs = 2_500;
const methTimeoutMs = 900; // below the storage period: a hung Read ends before the next cycle is due

interface Phase {
  name: string;
  startAt: number;
  /** METH's counters when the phase started (no storage Read on the wire at that moment). */
  served: { valueReads: number; sessionsCreated: number; subscriptions: number };
  reconnects: number;
  logMark: number;
}

describe("METH restarts and hangs: control follows only fresh demand, fail-safe once", () => {
  let h: PlantHarness;
  let running: RunningPlant;
  let captured: CapturedLog;
  let setpointFor: (demand: number) => number;
  let finalHealth: PlantHealth;
  let samples: StoredSample[];
  let cycles: StoredCycle[];
  const phases: Phase[] = [];
  /** Timings of the hang, from METH going silent: when plantbridge noticed, when it wrote 0 A. */
  const hang: { detectedAfterMs?: number; failSafeAfterMs?: number } = {};

  const methHealth = () => unitHealth(running, "METH");
  const beginPhase = async (name: string): Promise<Phase> => {
    await afterStorageRead(running);
    const { valueReads, sessionsCreated, subscriptions } = h.meth.served;
    const phase = {
      name,
      startAt: Date.now(),
      served: { valueReads, sessionsCreated, subscriptions },
      reconnects: methHealth().reconnects,
      logMark: captured.mark(),
    };
    phases.push(phase);
    return phase;
  };

  beforeAll(async () => {
    captured = captureLog();
    h = await startPlantHarness({
      name: "meth-restart",
      log: captured.log,
      pemel: { warmUpMs: 500 },
      patch: fastPlant({
        storageMs,
        controlMs: 250,
        failSafeMs,
        pemel: {
          timeoutMs: 1_000,
          reconnect: { initialDelayMs: 300, maxDelayMs: 2_000, factor: 2, jitter: 0, stableAfterMs: 0 },
        },
        meth: {
          timeoutMs: methTimeoutMs,
          keepAliveMs: 500,
          reconnect: { initialDelayMs: 300, maxDelayMs: 1_000, factor: 2, jitter: 0, stableAfterMs: 0 },
        },
        pollStoredOpcuaTags: true,
      }),
    });
    setpointFor = await referenceSetpoint(h.plant);
    h.meth.setDemand(8);
    running = await h.startPlant();
    await waitFor("following METH's demand", () =>
      writesSince(h.pemel, 0).some((w) => w.value === setpointFor(8)),
    );
    await waitFor("a good METH cycle", () => h.meth.served.valueReads >= 2);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it("restart: a new session and subscription; the demand set while METH was down reaches PEMEL, the old one never again", async () => {
    const phase = await beginPhase("meth:restart");
    const staleSetpoint = setpointFor(8);
    // Down until a whole storage cycle has read METH after the server stopped (the second cycle to
    // complete from here began after the stop), so the outage holds at least one bad sample by
    // construction, however fast the link comes back.
    await h.meth.restart({
      downMs: 500,
      whileDown: async () => {
        h.meth.setDemand(12);
        await afterStorageRead(running);
        await afterStorageRead(running);
      },
    });
    expect(h.meth.values().h2Flowrate).toBe(12);
    const fresh = setpointFor(h.meth.values().h2Flowrate);
    await waitFor("METH reconnected", () => {
      const unit = methHealth();
      return unit.state === "connected" && unit.reconnects > phase.reconnects;
    });
    await waitFor("the set point of the new demand", () =>
      writesSince(h.pemel, phase.startAt).some((w) => w.value === fresh),
    );
    await controlEvaluations(running, 8);

    expect(h.meth.served.sessionsCreated).toBeGreaterThan(phase.served.sessionsCreated);
    expect(h.meth.served.subscriptions).toBeGreaterThan(phase.served.subscriptions);
    // Once METH is back, only the fresh demand is followed: the set point from before the outage is
    // never written again. (If the outage outlasted the fail-safe limit, its 0 A comes first, once.)
    const written = writesSince(h.pemel, phase.startAt).map((w) => w.value);
    expect(written).not.toContain(staleSetpoint);
    expect(written.filter((v) => v !== 0)).toEqual([fresh]);
    expect(written.filter((v) => v === 0).length).toBeLessThanOrEqual(1);
    expect(written.at(-1)).toBe(fresh);
  });

  it("hang longer than the fail-safe limit: 0 A exactly once, not before its limit, held, then following resumes", async () => {
    const phase = await beginPhase("meth:stop-answering");
    const silentAt = phase.startAt;
    const before = writesSince(h.pemel, silentAt).length;
    expect(before).toBe(0);
    h.meth.setFault({ kind: "stop-answering" });
    const failSafe = h.plant.control[0]?.failSafe.value ?? -1;
    await waitFor("the fail-safe write", () => writesSince(h.pemel, silentAt).length > 0, 20_000);
    const failSafeWrite = writesSince(h.pemel, silentAt)[0];
    if (failSafeWrite === undefined) throw new Error("no fail-safe write");
    expect(failSafeWrite.value).toBe(failSafe);
    // Not before its limit: the last good demand came at or before silentAt.
    expect(failSafeWrite.time - silentAt).toBeGreaterThanOrEqual(failSafeMs);
    const noticed = captured
      .since(phase.logMark)
      .find((l) => l.unit === "METH" && /^METH faulted/.test(l.msg));
    hang.detectedAfterMs = typeof noticed?.time === "number" ? noticed.time - silentAt : undefined;
    hang.failSafeAfterMs = failSafeWrite.time - silentAt;
    // METH computes a new demand while plantbridge cannot reach it (the link is down by now; a hung
    // server may still push data changes on publish requests it already holds, so not earlier).
    expect(methHealth().state).not.toBe("connected");
    h.meth.setDemand(10);
    // Held: the loop keeps evaluating, nothing more is written while METH is away.
    await controlEvaluations(running, 12);
    expect(writesSince(h.pemel, silentAt)).toEqual([failSafeWrite]);
    expect(methHealth().state).not.toBe("connected");
    const loop = Object.values(running.health().loops)[0];
    expect(loop?.failSafeActive).toBe(true);

    const back = await beginPhase("meth:back");
    h.meth.clearFaults();
    const fresh = setpointFor(h.meth.values().h2Flowrate);
    await waitFor("METH back", () => {
      const unit = methHealth();
      return unit.state === "connected" && unit.reconnects > phase.reconnects;
    });
    await waitFor("following the fresh demand", () =>
      writesSince(h.pemel, back.startAt).some((w) => w.value === fresh),
    );
    await controlEvaluations(running, 8);
    expect(h.meth.served.sessionsCreated).toBeGreaterThan(phase.served.sessionsCreated);
    // The only writes since METH went silent: the fail-safe, then the fresh demand's set point.
    expect(writesSince(h.pemel, silentAt).map((w) => w.value)).toEqual([failSafe, fresh]);
    expect(Object.values(running.health().loops)[0]?.failSafeActive).toBe(false);

    // Each change of decision logged once: hold, fail-safe, resumed.
    const lines = captured.since(phase.logMark);
    expect(decisionLines(lines, "hold").filter((l) => l.level >= logLevel.info)).toHaveLength(1);
    expect(decisionLines(lines, "fail-safe").filter((l) => l.level >= logLevel.info)).toHaveLength(1);
    const resumed = decisionLines(lines, "follow").filter((l) => l.level >= logLevel.info);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.msg).toMatch(/resumed, following METH\.h2_demand 10 → PEMEL\.current_setpoint/);
  });

  describe("what was stored", () => {
    beforeAll(async () => {
      await beginPhase("end");
      await h.stopPlant();
      finalHealth = running.health();
      samples = await storedSamples(h.schema);
      cycles = storedCycles(samples, h.plant.storage.tags);
    }, 60_000);

    it("33 samples per cycle, PEMEL good throughout, nothing twice, the spool and the historian agree", () => {
      for (const cycle of cycles) {
        expect(cycle.samples.size).toBe(33);
        expect(["good", "bad"]).toContain(cycle.quality("METH"));
        // PEMEL stays up: good, but for cycles the storage deadline cut on a busy machine (said so)
        if (cycles.indexOf(cycle) > 0 && cycle.quality("PEMEL") !== "good")
          expect(cycle.reasons("PEMEL"), `PEMEL at ${cycle.time}`).toEqual(
            Array(30).fill(expect.stringMatching(deadlineReason)),
          );
      }
      // ... and every such cut (of either unit) is counted in the storage health.
      const cuts = cycles.flatMap((c) =>
        ["PEMEL", "METH"].filter(
          (unit) => c.quality(unit) === "bad" && c.reasons(unit).every((r) => deadlineReason.test(r)),
        ),
      );
      expect(cuts.length).toBeLessThanOrEqual(finalHealth.storage.lateUnits);
      expect(duplicateRows(samples)).toBe(0);
      expect(cycles.length).toBe(finalHealth.storage.cycles);
      expect(samples.length).toBe(finalHealth.storage.samples);
      expect(spoolTotals(h.plant.storage.spool.path)).toEqual({
        appended: finalHealth.storage.samples,
        duplicates: 0,
      });
      // A grid slot without a cycle was skipped as an overrun and counted (the in-process METH
      // server's start-up can hold the event loop longer than a period), never silently.
      expect(missingSlots(cycles, storageMs)).toBeLessThanOrEqual(finalHealth.storage.overruns);
    });

    it.each(["meth:restart", "meth:stop-answering"])("%s: METH samples served, stored, bad", (name) => {
      const index = phases.findIndex((p) => p.name === name);
      const phase = phases[index];
      // the hang's window runs until METH answered again and was followed ("meth:back" included)
      const end = phases[index + (name === "meth:stop-answering" ? 2 : 1)];
      if (phase === undefined || end === undefined) throw new Error(`${name} did not run`);
      const own = cycles.filter((c) => c.time >= phase.startAt && c.time < end.startAt);
      const ownRows = samples.filter((s) => s.time >= phase.startAt && s.time < end.startAt);
      const good = own.filter((c) => c.quality("METH") === "good").length;
      const bad = own.filter((c) => c.quality("METH") === "bad");
      const served = end.served.valueReads - phase.served.valueReads;
      // A Read that reached METH while it hung is stored bad with the timeout (or whatever ended the
      // link under it). METH answers it when it wakes up, to a client long gone: served, by
      // definition lost. Refusals before anything was sent say "not connected" or "link lost".
      const refusedBeforeSending = /not connected$|link lost; close\(\) and connect\(\) again$/;
      const answeredTooLate = bad.filter((c) =>
        c.reasons("METH").every((r) => !refusedBeforeSending.test(r)),
      ).length;
      const lost = served - good;
      const deadlineCuts = bad.filter((c) => c.reasons("METH").every((r) => deadlineReason.test(r))).length;
      printFigures({
        fault: name,
        served,
        stored: good,
        lost,
        duplicated: duplicateRows(ownRows),
        cycles: own.length,
        skippedSlots: gridSlots(phase.startAt, end.startAt, storageMs) - own.length,
        badCycles: bad.length,
        badSamples: bad.length * 3,
        answeredTooLate,
        deadlineCuts,
        sessionsCreated: end.served.sessionsCreated - phase.served.sessionsCreated,
        subscriptions: end.served.subscriptions - phase.served.subscriptions,
        reconnects: end.reconnects - phase.reconnects,
        ...(name === "meth:stop-answering" ? hang : {}),
        setpointWrites: writesSince(h.pemel, phase.startAt)
          .filter((w) => w.time < end.startAt)
          .map((w) => w.value),
      });
      expect(bad.length).toBeGreaterThanOrEqual(1);
      for (const c of bad) expect(c.reasons("METH")).toHaveLength(3);
      expect(lost).toBe(answeredTooLate);
      // The restart itself loses nothing: only a Read the storage deadline cut on a busy machine can be.
      if (name === "meth:restart") expect(lost).toBeLessThanOrEqual(deadlineCuts);
      expect(duplicateRows(ownRows)).toBe(0);
    });
  });
});
