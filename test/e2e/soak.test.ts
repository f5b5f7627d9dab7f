import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { repoRoot } from "./run-cli.ts";

/**
 * The soak, as `npm run soak` runs it, for two minutes: the reference plant on the simulators with a
 * random fault every few seconds (simulator faults, historian outages, wall-clock steps). Nothing
 * lost, nothing duplicated, memory flat, every storage cycle kept on its cadence.
 */

const summary = z.object({
  faults: z.number(),
  faultsByKind: z.record(z.string(), z.number()),
  cycles: z.object({
    expected: z.number(),
    stored: z.number(),
    overruns: z.number(),
    clockSteps: z.number(),
  }),
  samples: z.object({
    taken: z.number(),
    delivered: z.number(),
    inHistorian: z.number(),
    deadLettered: z.number(),
    pending: z.number(),
    identicalInSpool: z.number(),
    lost: z.number(),
    duplicated: z.number(),
    memoryDropped: z.number(),
    spoolDropped: z.number(),
  }),
  memoryGrew: z.boolean(),
});

function soak(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", join(repoRoot, "soak", "run.ts"), ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 8 * 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("npm run soak", () => {
  // Under the checkout (not a private temp folder): the embedded PostgreSQL runs as user postgres when root.
  const varDir = join(repoRoot, "var", "test", `soak-${randomBytes(4).toString("hex")}`);
  afterAll(() => rmSync(varDir, { recursive: true, force: true }));

  it(
    "two minutes of random faults: nothing lost, nothing duplicated, memory flat",
    async () => {
      const run = await soak(["--minutes", "2", "--seed", "20261205", "--fault-every", "3", "--var", varDir]);
      const line = run.stdout.trim().split("\n").at(-1) ?? "";
      if (!line.startsWith("{"))
        throw new Error(`the soak printed no summary (exit ${run.code}): ${run.stderr.slice(-3000)}`);
      const result = summary.parse(JSON.parse(line));
      console.log(`SOAK ${line}`);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      expect(result.faults).toBeGreaterThanOrEqual(30);
      expect(Object.keys(result.faultsByKind).some((k) => k.startsWith("clock:"))).toBe(true);
      expect(Object.keys(result.faultsByKind).some((k) => k.startsWith("historian:"))).toBe(true);
      expect(result.samples.taken).toBeGreaterThan(0);
      expect(result.samples.lost).toBe(0);
      expect(result.samples.duplicated).toBe(0);
      expect(result.samples.memoryDropped + result.samples.spoolDropped).toBe(0);
      expect(
        result.samples.delivered +
          result.samples.deadLettered +
          result.samples.pending +
          result.samples.identicalInSpool,
      ).toBe(result.samples.taken);
      expect(result.samples.inHistorian).toBeLessThanOrEqual(result.samples.delivered);
      expect(result.memoryGrew).toBe(false);
      // Storage kept its cadence through the clock steps: a cycle per period (a skipped one is counted).
      expect(result.cycles.stored + result.cycles.overruns).toBeGreaterThanOrEqual(
        result.cycles.expected - 2,
      );
    },
    10 * 60_000,
  );
});
