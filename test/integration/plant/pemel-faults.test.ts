import { createConnection, type Socket } from "node:net";
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
import { accountServedReads, deadlineReason } from "../../support/served-reads.ts";
import {
  afterStorageRead,
  duplicateRows,
  fastPlant,
  gridSlots,
  missingSlots,
  printFigures,
  referenceSetpoint,
  type StoredCycle,
  spoolTotals,
  storageReads,
  storedCycles,
  unitHealth,
  writesSince,
} from "../../support/unit-faults.ts";

/**
 * Every PEMEL fault the simulator can inject, one after the other on one running plant: while a
 * fault lasts PEMEL's 30 signals are stored bad with a reason naming it, METH's keep flowing good,
 * every cycle keeps its 33 samples; afterwards the link recovers by itself and control writes again.
 * The stored data is then held against what PEMEL served: every good record is one served read.
 */

const storageMs = 500;
// sim.yaml's timeout: shorter ones time out now and then on a loaded machine. A hung read outlasts
// the storage period: the slots it covers are skipped and counted as overruns.
const pemelTimeoutMs = 1_000;
const pemelReconnectMs = 600; // above the storage period: a dropped link misses at least one cycle
const pemelSignals = 30;
/** Served, but answered too late: after PEMEL's timeout, or after the storage cycle's deadline. */
const timedOut = new RegExp(`no reply to .* within ${pemelTimeoutMs} ms|${deadlineReason.source}`);
/** What METH's samples say before its session and subscription run. */
const methStartingUp =
  /^unit METH not connected$|^no value pushed yet by METH\.|^METH subscription not running: starting$|^METH has no subscription running$/;

interface Episode {
  name: string;
  /** What the bad PEMEL samples of this fault say. */
  reason: RegExp;
  /** The link goes through a reconnect (every fault but the Modbus exceptions). */
  reconnects: boolean;
  minBadCycles: number;
  setAt: number;
  clearedAt: number;
  recoveredAt: number;
  reconnectsDelta: number;
  faultsDelta: number;
  demand: number;
  setpoint: number;
  exceptionsDelta: number;
}

describe("PEMEL faults on the running plant", () => {
  let h: PlantHarness;
  let running: RunningPlant;
  let finalHealth: PlantHealth;
  let samples: StoredSample[];
  let cycles: StoredCycle[];
  const episodes: Episode[] = [];

  beforeAll(async () => {
    h = await startPlantHarness({
      name: "pemel-faults",
      pemel: { warmUpMs: 500 },
      patch: fastPlant({
        storageMs,
        controlMs: 250,
        failSafeMs: 2_000,
        pemel: {
          timeoutMs: pemelTimeoutMs,
          reconnect: {
            initialDelayMs: pemelReconnectMs,
            maxDelayMs: 1_500,
            factor: 2,
            jitter: 0,
            stableAfterMs: 0,
          },
        },
        meth: {
          timeoutMs: 2_000,
          keepAliveMs: 1_000,
          reconnect: { initialDelayMs: 200, maxDelayMs: 2_000, factor: 2, jitter: 0.2, stableAfterMs: 0 },
        },
      }),
    });
    const setpointFor = await referenceSetpoint(h.plant);
    const { pemel, meth } = h;
    // Whole-number demands give distinct set points (23, 25, 29, 31, 34, 37, 40, 42 A).
    const demands = [8, 9, 10, 11, 12, 13, 14, 15];
    meth.setDemand(demands[0] ?? 8);
    running = await h.startPlant();
    await waitFor("the first set point", () => writesSince(pemel, 0).some((w) => w.value === setpointFor(8)));
    await waitFor("three good cycles", () => storageReads(pemel).length >= 3);

    const badSamples = () => running.health().storage.badSamples;
    const pemelState = () => unitHealth(running, "PEMEL");
    let rogue: Socket | undefined;

    const scenarios: {
      name: string;
      reason: RegExp;
      reconnects: boolean;
      minBadCycles: number;
      inject(): Promise<void>;
      clear(): Promise<void>;
    }[] = [
      {
        name: "pemel:drop-connections",
        reason: /not connected|socket closed/,
        reconnects: true,
        minBadCycles: 1,
        async inject() {
          pemel.setFault({ kind: "drop-connections" });
        },
        async clear() {},
      },
      {
        name: "pemel:stop-answering",
        reason: new RegExp(
          `no reply to .* within ${pemelTimeoutMs} ms|not connected|link closed|did not answer within the storage deadline`,
        ),
        reconnects: true,
        minBadCycles: 3,
        async inject() {
          pemel.setFault({ kind: "stop-answering" });
        },
        async clear() {
          pemel.clearFault("stop-answering");
        },
      },
      ...([2, 4, 6] as const).map((code) => ({
        name: `pemel:exception-${code}`,
        reason: new RegExp(`^Modbus exception ${code} \\(`),
        reconnects: false,
        minBadCycles: 3,
        async inject() {
          pemel.setFault({ kind: "exception", code });
        },
        async clear() {
          pemel.clearFault("exception");
        },
      })),
      {
        // One connection at a time, and an engineering laptop takes it while plantbridge is away.
        name: "pemel:single-connection",
        reason: /not connected/,
        reconnects: true,
        minBadCycles: 3,
        async inject() {
          pemel.setFault({ kind: "single-connection" });
          // The open link keeps working in this mode (it never pipelines, so no exception 6).
          const reads = storageReads(pemel).length;
          await waitFor(
            "two storage reads in single-connection mode",
            () => storageReads(pemel).length >= reads + 2,
          );
          for (let attempt = 0; rogue === undefined; attempt++) {
            if (attempt >= 5) throw new Error("the rogue client never got PEMEL's only connection");
            pemel.setFault({ kind: "refuse-connections" });
            pemel.setFault({ kind: "drop-connections" });
            await waitFor("PEMEL without connections", () => pemel.connections() === 0, 30_000);
            pemel.clearFault("refuse-connections");
            await pemel.ready();
            rogue = await connectRogue(pemel.port);
            if (rogue !== undefined && pemelState().state === "connected") {
              // plantbridge got in first: its connection is the only one; try again
              rogue.destroy();
              rogue = undefined;
            }
          }
        },
        async clear() {
          rogue?.destroy();
          rogue = undefined;
        },
      },
      {
        // The unit drops off the network: the open connection dies and no new one is accepted.
        name: "pemel:refuse-connections",
        reason: /not connected|socket closed/,
        reconnects: true,
        minBadCycles: 3,
        async inject() {
          pemel.setFault({ kind: "refuse-connections" });
          const reads = storageReads(pemel).length;
          // Refusing new connections leaves the open one alone: storage keeps reading through it.
          await waitFor("a storage read while refusing", () => storageReads(pemel).length > reads);
          await afterStorageRead(running);
          pemel.setFault({ kind: "drop-connections" });
        },
        async clear() {
          pemel.clearFault("refuse-connections");
          await pemel.ready();
        },
      },
    ];

    try {
      for (const [i, scenario] of scenarios.entries()) {
        const demand = demands[i + 1] ?? 8;
        const before = { ...pemelState(), exceptions: pemel.served.exceptionCount };
        await afterStorageRead(running);
        const setAt = Date.now();
        const bad = badSamples();
        await scenario.inject();
        await waitFor(
          `${scenario.minBadCycles} bad PEMEL cycles during ${scenario.name}`,
          () => badSamples() >= bad + scenario.minBadCycles * pemelSignals,
        );
        await afterStorageRead(running);
        const clearedAt = Date.now();
        await scenario.clear();
        await waitFor(`PEMEL connected after ${scenario.name}`, () => {
          const unit = pemelState();
          return unit.state === "connected" && (!scenario.reconnects || unit.reconnects > before.reconnects);
        });
        await waitFor(`a good storage read after ${scenario.name}`, () =>
          storageReads(pemel).some((r) => r.time > clearedAt),
        );
        // Control resumes: a new demand reaches PEMEL's set point register.
        meth.setDemand(demand);
        await waitFor(`the set point for demand ${demand} after ${scenario.name}`, () =>
          writesSince(pemel, clearedAt).some((w) => w.value === setpointFor(demand)),
        );
        if (scenario.name === "pemel:single-connection") pemel.clearFault("single-connection");
        const after = pemelState();
        episodes.push({
          name: scenario.name,
          reason: scenario.reason,
          reconnects: scenario.reconnects,
          minBadCycles: scenario.minBadCycles,
          setAt,
          clearedAt,
          recoveredAt: Date.now(),
          reconnectsDelta: after.reconnects - before.reconnects,
          faultsDelta: after.faults - before.faults,
          demand,
          setpoint: setpointFor(demand),
          exceptionsDelta: pemel.served.exceptionCount - before.exceptions,
        });
      }
      await afterStorageRead(running);
    } finally {
      rogue?.destroy();
      pemel.clearFaults();
      await h.stopPlant();
    }
    finalHealth = running.health();
    samples = await storedSamples(h.schema);
    cycles = storedCycles(samples, h.plant.storage.tags);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it("every cycle holds 33 samples; METH is good in every cycle once up; PEMEL is all good or all bad", () => {
    expect(cycles.length).toBeGreaterThan(20);
    // The plant's first cycles may come before the OPC UA session and its subscription are up.
    const methUp = cycles.findIndex((c) => c.quality("METH") === "good");
    expect(methUp).toBeGreaterThanOrEqual(0);
    for (const cycle of cycles.slice(0, methUp)) {
      for (const reason of cycle.reasons("METH")) expect(reason).toMatch(methStartingUp);
    }
    for (const cycle of cycles) {
      expect(cycle.samples.size, `cycle ${cycle.time}`).toBe(33);
      expect(["good", "bad"], `PEMEL at ${cycle.time}`).toContain(cycle.quality("PEMEL"));
    }
    for (const cycle of cycles.slice(methUp)) {
      expect(cycle.quality("METH"), `METH at ${cycle.time}: ${cycle.reasons("METH")[0]}`).toBe("good");
    }
  });

  it("every good PEMEL record is the storage read PEMEL served for its cycle; none lost, none twice", () => {
    // A read served for a cycle stored bad was answered after the link or the cycle had given up
    // on it (PEMEL's timeout, the storage deadline): the cycle says so. Only that explains a loss.
    const account = accountServedReads(
      cycles.map((c) => [c.time, c.samples] as const),
      storageReads(h.pemel),
      { late: timedOut },
    );
    expect(account.unexplainedRecords).toEqual([]);
    expect(account.unexplainedReads).toEqual([]);
    expect(account.paired.length).toBe(cycles.filter((c) => c.quality("PEMEL") === "good").length);
    expect(account.paired.length).toBeGreaterThan(10);
  });

  it("the historian holds exactly what storage sampled and the spool was given", () => {
    const storage = finalHealth.storage;
    expect(duplicateRows(samples)).toBe(0);
    expect(cycles.length).toBe(storage.cycles);
    expect(samples.length).toBe(storage.samples);
    expect(samples.filter((s) => s.quality !== 0).length).toBe(storage.badSamples);
    const spool = spoolTotals(h.plant.storage.spool.path);
    expect(spool.appended).toBe(storage.samples);
    expect(spool.duplicates).toBe(0);
    expect(storage.dropped).toBe(0);
    // A grid slot without a cycle is never silent: it was skipped as an overrun and counted.
    expect(missingSlots(cycles, storageMs)).toBeLessThanOrEqual(storage.overruns);
    // So is a unit the storage deadline cut (a busy machine): counted in lateUnits.
    expect(cycles.filter((c) => isDeadlineCut(c)).length).toBeLessThanOrEqual(storage.lateUnits);
  });

  it.each([
    "pemel:drop-connections",
    "pemel:stop-answering",
    "pemel:exception-2",
    "pemel:exception-4",
    "pemel:exception-6",
    "pemel:single-connection",
    "pemel:refuse-connections",
  ])("%s: bad while it lasts, named; recovered by itself; exact counts", (name) => {
    const index = episodes.findIndex((e) => e.name === name);
    const episode = episodes[index];
    if (episode === undefined) throw new Error(`${name} did not run`);
    const windowEnd = episodes[index + 1]?.setAt ?? Number.POSITIVE_INFINITY;
    const inWindow = (t: number) => t >= episode.setAt && t < windowEnd;
    const own = cycles.filter((c) => inWindow(c.time));
    const ownRows = samples.filter((s) => inWindow(s.time));

    // "During" the fault, from the stored data: the run of bad PEMEL cycles. It starts after the
    // fault was injected, ends before control had resumed, and is one unbroken run. On a busy
    // machine the storage deadline may also cut a cycle outside it: bad, saying so, counted (see
    // the historian test), and the only bad PEMEL cycle allowed outside the fault's run.
    const run = longestBadRun(own);
    expect(run.length).toBeGreaterThanOrEqual(episode.minBadCycles);
    expect(run[0]?.time).toBeGreaterThan(episode.setAt - 1);
    expect(run.at(-1)?.time).toBeLessThan(episode.recoveredAt);
    for (const c of run) {
      for (const reason of c.reasons("PEMEL")) expect(reason).toMatch(orDeadline(episode.reason));
    }
    const outsideRun = own.filter((c) => !run.includes(c) && c.quality("PEMEL") !== "good");
    expect(outsideRun.filter((c) => !isDeadlineCut(c)).map((c) => c.reasons("PEMEL")[0])).toEqual([]);
    const badPemelSamples = ownRows.filter((s) => s.tag.startsWith("PEMEL.") && s.quality !== 0).length;
    expect(badPemelSamples).toBe((run.length + outsideRun.length) * pemelSignals);
    const methGood = ownRows.filter((s) => s.tag.startsWith("METH.") && s.quality === 0).length;
    expect(methGood).toBe(own.length * 3);

    // Served storage reads against good PEMEL records in the same window. A read served for a
    // cycle stored bad was answered after PEMEL's timeout or the storage deadline: by definition
    // lost, and said so. No other read served in the window is missing.
    const account = accountServedReads(
      cycles.map((c) => [c.time, c.samples] as const),
      storageReads(h.pemel),
      { late: timedOut },
    );
    const stored = account.paired.filter((p) => inWindow(p.time)).length;
    const answeredTooLate = account.answeredTooLate.filter((l) => inWindow(l.cycle)).length;
    const unexplained = account.unexplainedReads.filter((r) => inWindow(r.time));
    const served = stored + answeredTooLate + unexplained.length;
    const duplicated = duplicateRows(ownRows);
    const lost = served - stored;
    printFigures({
      fault: name,
      served,
      stored,
      lost,
      duplicated,
      answeredTooLate,
      cycles: own.length,
      skippedSlots: Number.isFinite(windowEnd)
        ? gridSlots(episode.setAt, windowEnd, storageMs) - own.length
        : undefined,
      badCycles: run.length,
      deadlineCutsOutsideRun: outsideRun.length,
      badSamples: badPemelSamples,
      methGoodSamples: methGood,
      reconnects: episode.reconnectsDelta,
      linkFaults: episode.faultsDelta,
      exceptionReplies: episode.exceptionsDelta,
      setpointAfterRecovery: episode.setpoint,
    });
    // Every loss is a read answered too late (on a busy machine one can be, for any fault), none else.
    expect(unexplained).toEqual([]);
    expect(stored).toBe(own.filter((c) => c.quality("PEMEL") === "good").length);
    expect(duplicated).toBe(0);

    // The link recovered by itself: through a reconnect, except for Modbus exceptions (link stays up).
    if (episode.reconnects) {
      expect(episode.reconnectsDelta).toBeGreaterThanOrEqual(1);
      expect(episode.faultsDelta).toBeGreaterThanOrEqual(1);
    } else {
      expect(episode.reconnectsDelta).toBe(0);
      expect(episode.faultsDelta).toBe(0);
    }
    // Exception replies only where the fault asks for them (single-connection: the link never pipelines).
    if (name.startsWith("pemel:exception")) expect(episode.exceptionsDelta).toBeGreaterThan(0);
    else expect(episode.exceptionsDelta).toBe(0);
    // Control resumed: the new demand's set point reached PEMEL after the fault was cleared.
    expect(writesSince(h.pemel, episode.clearedAt).map((w) => w.value)).toContain(episode.setpoint);
  });
});

/** PEMEL stored bad only because the storage deadline cut the cycle (a busy machine). */
function isDeadlineCut(cycle: StoredCycle): boolean {
  return cycle.quality("PEMEL") === "bad" && cycle.reasons("PEMEL").every((r) => deadlineReason.test(r));
}

function orDeadline(reason: RegExp): RegExp {
  return new RegExp(`${reason.source}|${deadlineReason.source}`);
}

/** The longest unbroken run of cycles with PEMEL bad (the first of equal ones). */
function longestBadRun(cycles: readonly StoredCycle[]): StoredCycle[] {
  let best: StoredCycle[] = [];
  let current: StoredCycle[] = [];
  for (const c of cycles) {
    if (c.quality("PEMEL") === "bad") current.push(c);
    else current = [];
    if (current.length > best.length) best = [...current];
  }
  return best;
}

/** A plain TCP client holding one of PEMEL's connections; undefined when PEMEL refused it. */
function connectRogue(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => resolve(socket));
    socket.once("error", () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}
