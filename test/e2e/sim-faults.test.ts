import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createPool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startEmbeddedPostgres } from "../../adapters/embedded-postgres/embedded.ts";
import { silentLog } from "../../lib/log.ts";
import { printFaultFigures } from "../support/crash.ts";
import { repoRoot, runCli } from "./run-cli.ts";

/**
 * `plantbridge sim` with faults injected into the simulators from the command line: a dropped
 * PEMEL connection, a window of Modbus exception 04 answers, a restart of the METH OPC UA server.
 * The run must survive all three, keep every storage cycle complete, and store exactly the
 * storage reads PEMEL served (its own log, reported in the summary).
 */

const faults = ["pemel:drop-connections@4s", "pemel:exception=4@7s+3s", "meth:restart@11s"];
/** The storage request of config/sim.yaml: the status word and the 14 values, 0x8061..0x8072. */
const storageRequest = "holding:0x8061+18";
const pemelPerCycle = 30; // 16 status bits + 14 process values
const methPerCycle = 3;

const summarySchema = z.object({
  reason: z.literal("duration"),
  samplesStored: z.object({ PEMEL: z.number(), METH: z.number() }),
  badSamplesStored: z.object({ PEMEL: z.number(), METH: z.number() }),
  signalsStored: z.number(),
  controlWrites: z.number(),
  lastCurrentWritten: z.number().nullable(),
  faultsSeen: z.object({ PEMEL: z.number(), METH: z.number() }),
  faultsInjected: z.array(z.string()),
  served: z.object({
    PEMEL: z.object({
      reads: z.number(),
      readsByRequest: z.record(z.string(), z.number()),
      writes: z.number(),
      exceptions: z.number(),
    }),
    METH: z.object({ sessionsCreated: z.number() }),
  }),
  spool: z.object({
    pending: z.record(z.string(), z.number()),
    dropped: z.number(),
    deadLettered: z.number(),
    duplicates: z.number(),
  }),
});

const cycleRow = z.object({
  time: z.number(),
  samples: z.number(),
  pemelGood: z.number(),
  pemelDeadlineCut: z.number(),
});

describe("plantbridge sim --fault (faults injected from the CLI)", () => {
  let varDir: string;
  let summary: z.infer<typeof summarySchema>;

  beforeAll(async () => {
    varDir = join(repoRoot, "var", "test", `sim-faults-${randomBytes(4).toString("hex")}`);
    await mkdir(varDir, { recursive: true });
    await chmod(varDir, 0o755); // as root, the embedded server runs as user postgres and must reach var/
    const result = await runCli(
      [
        "sim",
        "--duration",
        "16",
        "--var",
        varDir,
        "--log-level",
        "warn",
        "--http",
        "127.0.0.1:0",
        ...faults.flatMap((f) => ["--fault", f]),
      ],
      { env: { PB_HISTORIAN_URL: undefined, PB_HISTORIAN_SCHEMA: undefined }, timeoutMs: 150_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    summary = summarySchema.parse(JSON.parse(lines[0] as string));
  }, 180_000);

  afterAll(async () => {
    if (varDir) await rm(varDir, { recursive: true, force: true });
  });

  it("injected the three faults, and both units saw theirs", () => {
    expect(summary.faultsInjected).toEqual(faults);
    expect(summary.faultsSeen.PEMEL).toBeGreaterThanOrEqual(1);
    expect(summary.faultsSeen.METH).toBeGreaterThanOrEqual(1);
    expect(summary.served.PEMEL.exceptions).toBeGreaterThan(0);
    // The METH restart ends the first session: plantbridge opened a second one by itself.
    expect(summary.served.METH.sessionsCreated).toBeGreaterThanOrEqual(2);
    expect(summary.controlWrites).toBeGreaterThan(0);
  });

  it("kept every cycle complete, stored the exception window as bad PEMEL records, and lost no served read", async () => {
    const cycles = summary.samplesStored.METH / methPerCycle;
    expect(Number.isInteger(cycles)).toBe(true);
    expect(summary.samplesStored.PEMEL).toBe(cycles * pemelPerCycle);
    // Bad samples come as whole records: one failed read makes all 30 PEMEL samples of its cycle bad.
    expect(summary.badSamplesStored.PEMEL).toBeGreaterThan(0);
    expect(summary.badSamplesStored.PEMEL % pemelPerCycle).toBe(0);
    expect(summary.spool.pending.postgres).toBe(0);
    expect(summary.spool.dropped).toBe(0);
    expect(summary.spool.deadLettered).toBe(0);

    // The historian, read back: one complete record of 33 samples per cycle, none twice.
    const db = await startEmbeddedPostgres({ dataDir: join(varDir, "postgres"), log: silentLog() });
    let rows: readonly z.infer<typeof cycleRow>[];
    let total: number;
    let distinct: number;
    try {
      const pool = await createPool(db.url, { maximumPoolSize: 1 });
      try {
        rows = await pool.any(sql.type(cycleRow)`
          SELECT (extract(epoch FROM s.time) * 1000)::float8 AS time,
                 count(*)::int AS samples,
                 count(*) FILTER (WHERE s.quality = 0 AND t.unit = 'PEMEL')::int AS "pemelGood",
                 count(*) FILTER (WHERE s.quality <> 0 AND t.unit = 'PEMEL'
                   AND s.reason LIKE 'PEMEL did not answer within the storage deadline%')::int AS "pemelDeadlineCut"
          FROM plantbridge.samples s JOIN plantbridge.tags t ON t.id = s.tag_id
          GROUP BY s.time ORDER BY s.time`);
        const counts = await pool.one(sql.type(z.object({ total: z.number(), distinctKeys: z.number() }))`
          SELECT count(*)::int AS total, count(DISTINCT (tag_id, time))::int AS "distinctKeys" FROM plantbridge.samples`);
        total = counts.total;
        distinct = counts.distinctKeys;
      } finally {
        await pool.end();
      }
    } finally {
      await db.stop();
    }
    expect(rows.length).toBe(cycles);
    for (const c of rows) {
      expect(c.samples).toBe(pemelPerCycle + methPerCycle);
      expect([0, pemelPerCycle]).toContain(c.pemelGood);
    }
    const storedGood = rows.filter((c) => c.pemelGood === pemelPerCycle).length;
    expect(storedGood).toBe((summary.samplesStored.PEMEL - summary.badSamplesStored.PEMEL) / pemelPerCycle);

    // Every storage read PEMEL answered with data is a good record; the exception answers are the
    // bad ones. On a busy machine a storage cycle may stop waiting for PEMEL at its deadline: the
    // record is bad saying so, and the read PEMEL served for it (if it did) came too late.
    const served = summary.served.PEMEL.readsByRequest[storageRequest] ?? 0;
    const deadlineCuts = rows.filter((c) => c.pemelDeadlineCut === pemelPerCycle).length;
    for (const c of rows) expect([0, pemelPerCycle]).toContain(c.pemelDeadlineCut);
    const duplicated = total - distinct + summary.spool.duplicates;
    printFaultFigures({
      fault: "sim-cli-faults",
      served,
      stored: storedGood,
      lost: served - storedGood,
      duplicated,
      cycles,
      badPemelRecords: summary.badSamplesStored.PEMEL / pemelPerCycle,
      badMethSamples: summary.badSamplesStored.METH,
      pemelExceptionsServed: summary.served.PEMEL.exceptions,
      faultsSeen: summary.faultsSeen,
      methSessionsCreated: summary.served.METH.sessionsCreated,
      controlWrites: summary.controlWrites,
      deadlineCuts,
    });
    expect(served).toBeGreaterThan(0);
    expect(served - storedGood).toBeGreaterThanOrEqual(0);
    expect(served - storedGood).toBeLessThanOrEqual(deadlineCuts);
    expect(duplicated).toBe(0);
  });
});

describe("plantbridge sim with a bad --fault spec", () => {
  const cases = [
    { spec: "pemel:explode@3s", says: /PEMEL knows/ },
    { spec: "pemel-drop-connections@3s", says: /expected TARGET:KIND/ },
    { spec: "pemel:exception=9@1s+2s", says: /exception code must be 2, 4 or 6/ },
    { spec: "meth:freeze", says: /expected TARGET:KIND/ },
  ];

  it.each(cases)("$spec → exit 1 naming the spec, nothing created or started", async ({ spec, says }) => {
    const varDir = join(repoRoot, "var", "test", `sim-bad-fault-${randomBytes(4).toString("hex")}`);
    try {
      const result = await runCli(
        ["sim", "--duration", "5", "--var", varDir, "--fault", "meth:restart@2s", "--fault", spec],
        { timeoutMs: 60_000 },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(spec);
      expect(result.stderr).toMatch(says);
      expect(result.stdout).toBe("");
      // Not even the log folder: the spec is checked before the simulators, the database or the log.
      expect(existsSync(varDir)).toBe(false);
    } finally {
      await rm(varDir, { recursive: true, force: true });
    }
  });
});
