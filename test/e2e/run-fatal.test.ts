import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { PlantConfig } from "../../schemas/plant-types.ts";
import { type MethSimulator, startMethSimulator } from "../../simulators/meth/index.ts";
import { type PemelSimulator, startPemelSimulator } from "../../simulators/pemel/index.ts";
import { readSpoolFile, repoRoot, storageReads } from "../support/crash.ts";
import { dropSchema, testDatabaseUrl, uniqueSchemaName } from "../support/pg-schema.ts";
import { storedSamples, waitFor } from "../support/plant-harness.ts";

/**
 * A fatal error inside a running `plantbridge run` (an exception nobody catches, as a bug in a library
 * callback would throw): the process stops cleanly — final flush, links and spool closed — and exits
 * non-zero, so that its supervisor (systemd, Restart=on-failure) starts it again. It never hangs.
 */

const bin = join(repoRoot, "bin", "plantbridge.ts");
const preload = join(repoRoot, "test", "fixtures", "preload", "fatal-on-sigusr2.mjs");

const summary = z.object({
  reason: z.literal("fatal"),
  fatal: z.string(),
  health: z.object({ spool: z.object({ pending: z.record(z.string(), z.number()) }) }),
});

describe("plantbridge run after a fatal error", () => {
  let varDir: string;
  let schema: string;
  let pemel: PemelSimulator;
  let meth: MethSimulator;
  let plant: PlantConfig;
  let env: Record<string, string>;

  beforeAll(async () => {
    varDir = join(repoRoot, "var", "test", `run-fatal-${randomBytes(4).toString("hex")}`);
    await mkdir(varDir, { recursive: true });
    schema = uniqueSchemaName("run-fatal");
    const password = randomBytes(9).toString("base64url");
    pemel = await startPemelSimulator({ port: 0 });
    meth = await startMethSimulator({ username: "plantbridge", password, pkiDir: join(varDir, "meth-pki") });
    env = {
      PB_SIM_PEMEL_PORT: String(pemel.port),
      PB_SIM_METH_ENDPOINT: meth.endpoint,
      PB_SIM_METH_PASSWORD: password,
      PB_HISTORIAN_URL: testDatabaseUrl,
      PB_HISTORIAN_SCHEMA: schema,
    };
    plant = await loadPlantFile(join(repoRoot, "config", "sim.yaml"), { env, varDir: join(varDir, "plant") });
  });

  afterAll(async () => {
    await Promise.allSettled([pemel?.stop(), meth?.stop()]);
    if (schema) await dropSchema(schema).catch(() => undefined);
    if (varDir) await rm(varDir, { recursive: true, force: true });
  });

  it("stops cleanly and exits 1: every sample taken is in the historian, the spool closed, the reason logged", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        preload,
        bin,
        "run",
        "config/sim.yaml",
        "--var",
        join(varDir, "plant"),
        "--http",
        "127.0.0.1:0",
      ],
      { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    let exitCode: number | null | undefined;
    void exited.then((code) => {
      exitCode = code;
    });
    await waitFor(
      "five storage reads served",
      () => {
        if (exitCode !== undefined) throw new Error(`plantbridge exited early (${exitCode}): ${stderr}`);
        return storageReads(pemel).length >= 5;
      },
      60_000,
    );
    child.kill("SIGUSR2");
    // Never hangs: it ends by itself, well inside its own 60 s backstop.
    const code = await Promise.race([
      exited,
      new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 90_000).unref()),
    ]);
    if (code === "hung") child.kill("SIGKILL");
    expect(code, stderr.slice(-2000)).toBe(1);

    const line = summary.parse(JSON.parse(stdout.trim().split("\n").at(-1) ?? ""));
    expect(line.fatal).toContain("injected fatal error (test preload)");
    expect(line.health.spool.pending.postgres).toBe(0);
    // The final flush delivered everything: the spool holds nothing pending and was closed (its lock is free).
    const spool = readSpoolFile(plant.storage.spool.path);
    expect(spool.pending).toEqual([]);
    const rows = await storedSamples(schema);
    expect(rows.length).toBe(spool.lastSeq);
    const log = readFileSync(join(varDir, "plant", "log", "plantbridge.log"), "utf8");
    expect(log).toContain("fatal error, stopping cleanly");
    expect(log).toContain("plant stopped");
    expect(existsSync(plant.storage.spool.path)).toBe(true);
  }, 180_000);
});
