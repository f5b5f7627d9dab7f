import { chmod, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { createPool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startEmbeddedPostgres } from "../../adapters/embedded-postgres/embedded.ts";
import { silentLog } from "../../lib/log.ts";
import { repoRoot, runCli } from "./run-cli.ts";

const summarySchema = z.object({
  reason: z.literal("duration"),
  samplesStored: z.object({ PEMEL: z.number(), METH: z.number() }),
  badSamplesStored: z.object({ PEMEL: z.number(), METH: z.number() }),
  signalsStored: z.number(),
  controlWrites: z.number(),
  lastCurrentWritten: z.number().nullable(),
  faultsSeen: z.record(z.string(), z.number()),
  spool: z.object({
    pending: z.record(z.string(), z.number()),
    dropped: z.number(),
    deadLettered: z.number(),
    conflicts: z.number(),
    deadLetters: z.number(),
    deadLettersDropped: z.number(),
  }),
});

const cycleRow = z.object({
  time: z.number(),
  samples: z.number(),
  good: z.number(),
  badWithReason: z.number(),
  deadlineCut: z.number(),
});

describe("plantbridge sim --duration 20 (the CLI, end to end)", () => {
  let varDir: string;
  let summary: z.infer<typeof summarySchema>;

  beforeAll(async () => {
    varDir = await mkdtemp(join(repoRoot, "var", "test-sim-"));
    await chmod(varDir, 0o755); // as root, the embedded server runs as user postgres and must reach var/
    const result = await runCli(
      ["sim", "--duration", "20", "--var", varDir, "--log-level", "warn", "--http", "127.0.0.1:0"],
      {
        timeoutMs: 150_000,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    summary = summarySchema.parse(JSON.parse(lines[0] as string));
  }, 180_000);

  afterAll(async () => {
    if (varDir) await rm(varDir, { recursive: true, force: true });
  });

  it("stores every one of the reference plant's 33 signals in every cycle", () => {
    expect(summary.signalsStored).toBe(33);
    // 30 PEMEL signals (16 status bits + 14 process values) and 3 METH signals per 1-s storage cycle.
    const cycles = summary.samplesStored.METH / 3;
    expect(Number.isInteger(cycles)).toBe(true);
    expect(cycles).toBeGreaterThanOrEqual(15);
    expect(summary.samplesStored.PEMEL).toBe(cycles * 30);
    // A cycle that runs while a link is still connecting stores bad-quality samples (never none):
    // only the start-up of the run (checked cycle by cycle below), so most samples are good.
    expect(summary.badSamplesStored.PEMEL).toBeLessThan(summary.samplesStored.PEMEL / 2);
    expect(summary.badSamplesStored.METH).toBeLessThan(summary.samplesStored.METH / 2);
    expect(summary.spool.pending.postgres).toBe(0);
    expect(summary.spool.dropped).toBe(0);
    expect(summary.spool.deadLettered).toBe(0);
    expect(summary.spool).toMatchObject({ conflicts: 0, deadLetters: 0, deadLettersDropped: 0 });
  });

  it("writes the PEMEL current set point from METH's demand once H2 cooling has reached temperature", () => {
    expect(summary.controlWrites).toBeGreaterThan(0);
    expect(summary.lastCurrentWritten).not.toBeNull();
    const current = summary.lastCurrentWritten as number;
    expect(Number.isInteger(current)).toBe(true);
    expect(current === 0 || (current >= 8 && current <= 52)).toBe(true);
    expect(Object.keys(summary.faultsSeen).sort()).toEqual(["METH", "PEMEL"]);
  });

  it("left the rows in the embedded historian: one complete record of 33 samples per cycle, none twice", async () => {
    const db = await startEmbeddedPostgres({ dataDir: join(varDir, "postgres"), log: silentLog() });
    try {
      const pool = await createPool(db.url, { maximumPoolSize: 1 });
      try {
        const cycles = await pool.any(sql.type(cycleRow)`
          SELECT (extract(epoch FROM s.time) * 1000)::float8 AS time,
                 count(*)::int AS samples,
                 count(*) FILTER (WHERE s.quality = 0)::int AS good,
                 count(*) FILTER (WHERE s.quality <> 0 AND s.reason <> '' AND s.value IS NULL)::int AS "badWithReason",
                 count(*) FILTER (WHERE s.quality <> 0
                   AND s.reason LIKE '% did not answer within the storage deadline (%')::int AS "deadlineCut"
          FROM plantbridge.samples s GROUP BY s.time ORDER BY s.time`);
        expect(cycles.length).toBe(summary.samplesStored.METH / 3);
        for (const c of cycles) {
          expect(c.samples).toBe(33);
          expect(c.good + c.badWithReason).toBe(33);
        }
        // Bad samples only while the links come up: once a record is all good, every later one is
        // too, but for a unit the storage deadline cut on a busy machine (PEMEL's 30 samples, said so).
        const firstAllGood = cycles.findIndex((c) => c.good === 33);
        expect(firstAllGood).toBeGreaterThanOrEqual(0);
        expect(firstAllGood).toBeLessThan(cycles.length / 2);
        for (const c of cycles.slice(firstAllGood)) {
          expect([0, 30]).toContain(c.deadlineCut);
          expect(c.good + c.deadlineCut).toBe(33);
        }
        // Cycle times are the drift-free schedule: whole seconds, each taken once, in order
        // (an overrun on a loaded machine skips a whole slot, never shifts the schedule).
        for (let i = 1; i < cycles.length; i++) {
          const gap = (cycles[i] as { time: number }).time - (cycles[i - 1] as { time: number }).time;
          expect(gap > 0 && gap % 1000 === 0).toBe(true);
        }
        const stored = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`
          SELECT count(*)::int AS n FROM plantbridge.samples s JOIN plantbridge.tags t ON t.id = s.tag_id
          WHERE t.name = 'PEMEL.h2_cooling_temperature_reached' AND s.value = 1`);
        expect(stored).toBeGreaterThan(0);
      } finally {
        await pool.end();
      }
    } finally {
      await db.stop();
    }
  });
});
