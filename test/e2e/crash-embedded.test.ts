import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startEmbeddedPostgres } from "../../adapters/embedded-postgres/embedded.ts";
import { runningServerPid, stopServer } from "../../adapters/embedded-postgres/server-process.ts";
import { silentLog } from "../../lib/log.ts";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { PlantConfig } from "../../schemas/plant-types.ts";
import { type MethSimulator, startMethSimulator } from "../../simulators/meth/index.ts";
import { type PemelSimulator, startPemelSimulator } from "../../simulators/pemel/index.ts";
import {
  accountRuns,
  killHard,
  nextStorageRead,
  type PlantProcess,
  printFaultFigures,
  type RunRecord,
  readSpoolFile,
  repoRoot,
  spawnPlantbridge,
  storageReads,
  storedPemelTags,
  waitForStorageReads,
} from "../support/crash.ts";
import { storedSamples, waitFor } from "../support/plant-harness.ts";

/**
 * The embedded PostgreSQL survives a SIGKILL of plantbridge (it is a separate process that
 * nobody tells to stop). The next start must find it through postmaster.pid, stop it, start its
 * own server on the same data directory and carry on: nothing lost, nothing twice.
 */

const healthLine = z.object({
  reason: z.literal("SIGTERM"),
  health: z.object({
    storage: z.object({ cycles: z.number(), unstored: z.number() }),
    spool: z.object({ pending: z.record(z.string(), z.number()), duplicates: z.number() }),
  }),
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("plantbridge with the embedded PostgreSQL, killed with SIGKILL and restarted", () => {
  let varDir: string;
  let plantVar: string;
  let pgDir: string;
  let pemel: PemelSimulator;
  let meth: MethSimulator;
  let plant: PlantConfig;
  let env: Record<string, string | undefined>;
  let current: PlantProcess | undefined;

  beforeAll(async () => {
    varDir = join(repoRoot, "var", "test", `crash-embedded-${randomBytes(4).toString("hex")}`);
    plantVar = join(varDir, "plant");
    pgDir = join(plantVar, "postgres");
    await mkdir(plantVar, { recursive: true });
    // As root the embedded server runs as user postgres, which must reach its data directory.
    await chmod(varDir, 0o755);
    await chmod(plantVar, 0o755);
    const password = randomBytes(9).toString("base64url");
    pemel = await startPemelSimulator({ port: 0 });
    meth = await startMethSimulator({
      username: "plantbridge",
      password,
      pkiDir: join(varDir, "meth-simulator-pki"),
    });
    env = {
      PB_SIM_PEMEL_PORT: String(pemel.port),
      PB_SIM_METH_ENDPOINT: meth.endpoint,
      PB_SIM_METH_PASSWORD: password,
      PB_HISTORIAN_URL: "", // empty: the embedded PostgreSQL under --var
      PB_HISTORIAN_SCHEMA: undefined,
    };
    plant = await loadPlantFile(join(repoRoot, "config", "sim.yaml"), { env, varDir: plantVar });
  });

  afterAll(async () => {
    if (current && !current.exit) {
      current.child.kill("SIGKILL");
      await current.exited;
    }
    await Promise.allSettled([pemel?.stop(), meth?.stop()]);
    if (pgDir) {
      const left = runningServerPid(pgDir);
      if (left !== undefined) await stopServer(pgDir, left, 15_000);
    }
    if (varDir) await rm(varDir, { recursive: true, force: true });
  });

  it("the next start stops the server the killed one left running, and the historian holds every served read once", async () => {
    const spoolPath = plant.storage.spool.path;
    const samplesPerCycle = plant.storage.tags.length;
    const start = (): PlantProcess => {
      current = spawnPlantbridge(["run", "config/sim.yaml", "--var", plantVar, "--http", "127.0.0.1:0"], env);
      return current;
    };

    // Run 1: killed at a random moment of a storage period.
    let readsBefore = storageReads(pemel).length;
    const first = start();
    await waitForStorageReads(pemel, readsBefore + 5, first);
    await nextStorageRead(pemel, first);
    const delay = Math.floor(Math.random() * 1000);
    // A deliberate pause: it places the kill at a random moment of the storage cycle.
    await sleep(delay);
    expect((await killHard(first, pemel)).signal).toBe("SIGKILL");
    const runs: RunRecord[] = [
      {
        label: `run 1, killed ${delay} ms after a served storage read`,
        startedAt: first.startedAt,
        endedAt: Date.now(),
        killed: true,
        reads: storageReads(pemel).slice(readsBefore),
        spoolAfter: readSpoolFile(spoolPath),
      },
    ];
    // The killed plantbridge's PostgreSQL is still running and holds the data directory.
    const stale = runningServerPid(pgDir);
    expect(stale, "the embedded server outlives a SIGKILL of plantbridge").toBeDefined();

    // Run 2 on the same --var: stops the stale server, starts its own, stores, stops on SIGTERM.
    readsBefore = storageReads(pemel).length;
    const second = start();
    await waitForStorageReads(pemel, readsBefore + 4, second);
    expect(processAlive(stale as number), "the stale server was stopped").toBe(false);
    const own = runningServerPid(pgDir);
    expect(own).toBeDefined();
    expect(own).not.toBe(stale);
    second.child.kill("SIGTERM");
    expect(await second.exited, second.stderr()).toEqual({ code: 0, signal: null });
    await waitFor(
      "PEMEL to see the stopped process's connection close",
      () => pemel.connections() === 0,
      10_000,
    );
    runs.push({
      label: "run 2, stopped with SIGTERM",
      startedAt: second.startedAt,
      endedAt: Date.now(),
      killed: false,
      reads: storageReads(pemel).slice(readsBefore),
      spoolAfter: readSpoolFile(spoolPath),
    });
    // A clean stop stops the embedded server too.
    expect(runningServerPid(pgDir)).toBeUndefined();
    const summary = healthLine.parse(JSON.parse(second.stdout().trim().split("\n").at(-1) ?? ""));
    const log = readFileSync(join(plantVar, "log", "plantbridge.log"), "utf8");
    expect(log).toContain("stopping a server left running on this data directory");

    const db = await startEmbeddedPostgres({ dataDir: pgDir, log: silentLog() });
    let rows: Awaited<ReturnType<typeof storedSamples>>;
    try {
      rows = await storedSamples(plant.storage.historian.schema, db.url);
    } finally {
      await db.stop();
    }

    const { accounts, outsideAnyRun } = accountRuns(
      runs,
      rows,
      storedPemelTags(plant),
      samplesPerCycle,
      plant.storage.periodMs,
    );
    const distinct = new Set(rows.map((r) => `${r.tag}@${r.time}`)).size;
    expect(rows.length - distinct).toBe(0);
    expect(outsideAnyRun).toEqual([]);
    for (const a of accounts) {
      expect(a.appendedCycles, `${a.label}: cycles appended to the spool vs stored`).toBe(a.cycles.length);
      expect(a.mismatches, a.label).toEqual([]);
      expect(a.matched, a.label).toBe(a.storedGood);
      // As in crash-restart.test.ts: only a read served between the last append and the kill may be gone.
      expect(a.unmatched.length, a.label).toBeLessThanOrEqual(a.killed ? 1 : 0);
      for (const u of a.unmatched) {
        expect(u.slot).toBeGreaterThan(a.cycles.at(-1) ?? 0);
        expect(u.slotStored).toBe(false);
      }
    }
    const killedRun = runs[0];
    const nextRun = runs[1];
    expect(nextRun?.spoolAfter.cursor).toBeGreaterThanOrEqual(killedRun?.spoolAfter.pending.at(-1)?.seq ?? 0);
    expect(summary.health.storage.cycles).toBe(accounts[1]?.cycles.length);
    expect(summary.health.spool.pending.postgres).toBe(0);
    const spoolAtEnd = runs[1]?.spoolAfter;
    expect(spoolAtEnd?.pending).toEqual([]);
    expect(spoolAtEnd?.duplicates).toBe(0);
    expect(spoolAtEnd?.lastSeq).toBe(new Set(rows.map((r) => r.time)).size * samplesPerCycle);

    const served = accounts.reduce((n, a) => n + a.served, 0);
    const stored = accounts.reduce((n, a) => n + a.storedGood, 0);
    // Reads answered after their cycle's deadline (a busy machine), each for a cycle stored bad saying so.
    const answeredTooLate = accounts.reduce((n, a) => n + a.answeredTooLate, 0);
    const expectedLost = accounts.reduce((n, a) => n + a.unmatched.length, 0) + answeredTooLate;
    const duplicated = rows.length - distinct + (spoolAtEnd?.duplicates ?? 0) + outsideAnyRun.length;
    printFaultFigures({
      fault: "sigkill-restart-embedded",
      served,
      stored,
      lost: served - stored,
      duplicated,
      killMoment: `${delay} ms after a served storage read`,
      answeredTooLate,
      pendingInSpoolAtKill: killedRun?.spoolAfter.pending.length,
      staleServerStopped: true,
      cyclesPerRun: accounts.map((a) => a.cycles.length),
      finalRunStorageCycles: summary.health.storage.cycles,
    });
    expect(served - stored).toBe(expectedLost);
    expect(duplicated).toBe(0);
    // Two starts of a child plantbridge and three of an embedded PostgreSQL: several times slower
    // on a busy machine. The deadline only catches a hung run.
  }, 240_000);
});
