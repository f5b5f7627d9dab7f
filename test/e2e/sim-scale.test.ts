import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { repoRoot, runCli } from "./run-cli.ts";

const summarySchema = z.object({
  reason: z.literal("duration"),
  scale: z.string(),
  shape: z.enum(["devices", "gateway"]),
  connection: z.enum(["separate", "shared"]),
  plantFile: z.string(),
  cycles: z.number(),
  slotsStored: z.number(),
  completeSlots: z.number(),
  samplesPerSlot: z.number(),
  samplesStored: z.record(z.string(), z.number()),
  badSamplesStored: z.record(z.string(), z.number()),
  signalsStored: z.number(),
  overruns: z.number(),
  lateUnits: z.number(),
  faultsSeen: z.record(z.string(), z.number()),
  faultsInjected: z.array(z.string()),
  served: z.object({
    reads: z.number(),
    registers: z.number(),
    exceptions: z.number(),
    unanswered: z.number(),
  }),
  spool: z.object({
    pending: z.record(z.string(), z.number()),
    dropped: z.number(),
    deadLettered: z.number(),
  }),
});
type Summary = z.infer<typeof summarySchema>;

const units = ["U01", "U02", "U03"];

async function simScale(varDir: string, args: readonly string[]): Promise<Summary> {
  const result = await runCli(
    ["sim", ...args, "--var", varDir, "--log-level", "warn", "--http", "127.0.0.1:0"],
    {
      timeoutMs: 120_000,
    },
  );
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return summarySchema.parse(JSON.parse(lines[0] as string));
}

/** Every slot of the run holds every tag, each unit's count is slots × tags, nothing left behind. */
function expectEverySlot(summary: Summary, tagsPerUnit: number): void {
  expect(summary.samplesPerSlot).toBe(units.length * tagsPerUnit);
  expect(summary.slotsStored).toBeGreaterThanOrEqual(3);
  expect(summary.completeSlots).toBe(summary.slotsStored);
  expect(summary.cycles).toBe(summary.slotsStored);
  expect(summary.signalsStored).toBe(units.length * tagsPerUnit);
  expect(Object.keys(summary.samplesStored).sort()).toEqual(units);
  for (const unit of units) expect(summary.samplesStored[unit]).toBe(summary.slotsStored * tagsPerUnit);
  expect(summary.overruns).toBe(0);
  expect(summary.spool.pending.postgres).toBe(0);
  expect(summary.spool.dropped).toBe(0);
  expect(summary.spool.deadLettered).toBe(0);
}

describe("plantbridge sim --scale (the CLI, end to end)", () => {
  let varDir: string;

  beforeAll(async () => {
    varDir = await mkdtemp(join(repoRoot, "var", "test-sim-scale-"));
    await chmod(varDir, 0o755); // as root, the embedded server runs as user postgres and must reach var/
  });

  afterAll(async () => {
    if (varDir) await rm(varDir, { recursive: true, force: true });
  });

  it("3x50 for 8 s: three devices, a generated plant, every slot stored with every tag", async () => {
    // 2 s: every slot is asserted (no overrun), and a loaded machine's stalls must not make one
    const summary = await simScale(varDir, ["--scale", "3x50", "--period", "2s", "--duration", "8"]);
    expect(summary).toMatchObject({
      scale: "3x50",
      shape: "devices",
      connection: "separate",
      faultsInjected: [],
    });
    expectEverySlot(summary, 50);
    // a slot taken before a link was up (or, on a loaded machine, a read late for its deadline) is
    // stored bad, never left out
    for (const unit of units) expect(summary.badSamplesStored[unit]).toBeLessThan(summary.slotsStored * 50);
    expect(summary.served).toMatchObject({ exceptions: 0, unanswered: 0 });
    // every stored value was read: one request of 50 registers per unit and cycle at least
    expect(summary.served.registers).toBeGreaterThanOrEqual(summary.slotsStored * 3 * 50);
    const plantFile = await readFile(summary.plantFile, "utf8");
    expect(plantFile).toContain("connection: separate");
    expect(plantFile).toContain("r0049: { area: holding, address: 49, type: uint16 }");
  }, 150_000);

  it("--gateway with a unit id that stops answering: its neighbours lose no slot and no sample", async () => {
    const summary = await simScale(varDir, [
      "--scale",
      "3x50",
      "--gateway",
      // 2 s: the silent unit's timeout is 500 ms and the deadline 1.6 s, ample on a loaded machine
      "--period",
      "2s",
      "--duration",
      "12",
      "--fault",
      "scale:silent=2@3s",
    ]);
    expect(summary).toMatchObject({
      shape: "gateway",
      connection: "shared",
      faultsInjected: ["scale:silent=2@3s"],
    });
    expectEverySlot(summary, 50);
    for (const unit of ["U01", "U03"]) expect(summary.badSamplesStored[unit]).toBeLessThanOrEqual(50);
    // silent from 3 s: its slots from then on are bad (with the reason), never missing
    expect(summary.badSamplesStored.U02).toBeGreaterThanOrEqual(3 * 50);
    expect(summary.served.unanswered).toBeGreaterThanOrEqual(1);
    // a unit's demotion is not a lost link
    expect(summary.faultsSeen).toEqual({ U01: 0, U02: 0, U03: 0 });
    expect(summary.lateUnits).toBe(0);
  }, 150_000);
});
