/**
 * The whole plant in one test process: the PEMEL and METH simulators on loopback, the plant of
 * config/sim.yaml wired with the real adapters (bin/runtime/start-plant.ts), a historian in its own
 * schema of the test PostgreSQL (optionally behind a TCP proxy the test can sever).
 * Tests change periods and limits by patching the loaded PlantConfig.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "slonik";
import { z } from "zod";
import { type RunningPlant, startPlant } from "../../bin/runtime/start-plant.ts";
import { type Log, silentLog } from "../../lib/log.ts";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { HttpConfig, PlantConfig } from "../../schemas/plant-types.ts";
import {
  type MethSimulator,
  type MethSimulatorOptions,
  startMethSimulator,
} from "../../simulators/meth/index.ts";
import {
  type PemelSimulator,
  type PemelSimulatorOptions,
  startPemelSimulator,
} from "../../simulators/pemel/index.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "./pg-schema.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const simYaml = join(repoRoot, "config", "sim.yaml");

export interface PlantHarnessOptions {
  /** Names the schema and var folder, e.g. "historian-outage". */
  name: string;
  /** Historian URL (default the test PostgreSQL; give a proxy's URL to cut it). */
  historianUrl?: string;
  /** Changes to the plant of config/sim.yaml (periods, fail-safe, spool size, …). */
  patch?: (plant: PlantConfig) => PlantConfig;
  pemel?: Omit<PemelSimulatorOptions, "port">;
  meth?: Omit<MethSimulatorOptions, "pkiDir" | "username" | "password">;
  log?: Log;
  shutdownFlushMs?: number;
  /** Start the status server here (tests: 127.0.0.1, port 0); absent = none. */
  http?: HttpConfig;
}

export interface PlantHarness {
  pemel: PemelSimulator;
  meth: MethSimulator;
  plant: PlantConfig;
  /** Set by `startPlant()`; undefined before and after `stopPlant()`. */
  running: RunningPlant | undefined;
  schema: string;
  varDir: string;
  /** Starts (or restarts, after `stopPlant`) the plant on the same spool and historian schema. */
  startPlant(): Promise<RunningPlant>;
  /** Clean shutdown of the plant only (SIGTERM path): the simulators keep running. */
  stopPlant(): Promise<void>;
  /** Stops everything and removes the schema and the var folder. */
  close(): Promise<void>;
}

/** A PostgreSQL URL for the test database reached through another port (a proxy). */
export function testDatabaseUrlVia(port: number): string {
  const url = new URL(testDatabaseUrl);
  url.host = `127.0.0.1:${port}`;
  return url.toString();
}

export async function startPlantHarness(options: PlantHarnessOptions): Promise<PlantHarness> {
  const log = options.log ?? silentLog();
  const varDir = join(repoRoot, "var", "test", `${options.name}-${randomBytes(4).toString("hex")}`);
  await mkdir(varDir, { recursive: true });
  const schema = uniqueSchemaName(options.name);
  const password = randomBytes(9).toString("base64url");
  const pemel = await startPemelSimulator({ ...options.pemel, port: 0 });
  const meth = await startMethSimulator({
    ...options.meth,
    username: "plantbridge",
    password,
    pkiDir: join(varDir, "pki", "meth-simulator"),
  });
  const loaded = await loadPlantFile(simYaml, {
    varDir,
    env: {
      PB_SIM_PEMEL_PORT: String(pemel.port),
      PB_SIM_METH_ENDPOINT: meth.endpoint,
      PB_SIM_METH_PASSWORD: password,
    },
  });
  const withHistorian: PlantConfig = {
    ...loaded,
    storage: {
      ...loaded.storage,
      historian: { ...loaded.storage.historian, url: options.historianUrl ?? testDatabaseUrl, schema },
    },
  };
  const plant = options.patch ? options.patch(withHistorian) : withHistorian;

  const harness: PlantHarness = {
    pemel,
    meth,
    plant,
    running: undefined,
    schema,
    varDir,
    async startPlant() {
      if (harness.running) throw new Error("the plant is already running");
      harness.running = await startPlant(plant, {
        log,
        shutdownFlushMs: options.shutdownFlushMs ?? 10_000,
        ...(options.http !== undefined ? { http: options.http } : {}),
      });
      return harness.running;
    },
    async stopPlant() {
      const running = harness.running;
      harness.running = undefined;
      await running?.stop();
    },
    async close() {
      await harness.stopPlant().catch(() => undefined);
      await Promise.allSettled([pemel.stop(), meth.stop()]);
      await dropSchema(schema).catch(() => undefined);
      await rm(varDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Polls `condition` every 50 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const storedRow = z.object({
  tag: z.string(),
  time: z.number(),
  value: z.number().nullable(),
  quality: z.number(),
  reason: z.string().nullable(),
});
export type StoredSample = z.infer<typeof storedRow>;

/** Every sample in a narrow-layout historian schema, ordered by time then tag. */
export async function storedSamples(schema: string, url: string = testDatabaseUrl): Promise<StoredSample[]> {
  const pool = await testPool(url);
  try {
    const rows = await pool.any(sql.type(storedRow)`
      SELECT t.name AS tag, s.time AS time, s.value AS value, s.quality::int AS quality, s.reason AS reason
      FROM ${sql.identifier([schema, "samples"])} s JOIN ${sql.identifier([schema, "tags"])} t ON t.id = s.tag_id
      ORDER BY s.time, t.name`);
    return [...rows];
  } finally {
    await pool.end();
  }
}

/** Samples grouped per storage cycle (time → tag → sample). */
export function byCycle(samples: readonly StoredSample[]): Map<number, Map<string, StoredSample>> {
  const cycles = new Map<number, Map<string, StoredSample>>();
  for (const s of samples) {
    let cycle = cycles.get(s.time);
    if (!cycle) {
      cycle = new Map();
      cycles.set(s.time, cycle);
    }
    cycle.set(s.tag, s);
  }
  return cycles;
}
