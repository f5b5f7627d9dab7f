/**
 * One step of the end-to-end bench (end-to-end.ts): a plant of synthetic scale units started at a
 * rate on a fresh spool and schema, watched while it holds the rate, stopped with a flush, and the
 * database counted.
 */
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import { openSpoolReader } from "../adapters/spool/spool-report.ts";
import { type RunningPlant, startPlant } from "../bin/runtime/start-plant.ts";
import { silentLog } from "../lib/log.ts";
import type { PlantHealth } from "../machines/plant.machine.ts";
import { loadPlantText } from "../schemas/load-plant.ts";
import type { PlantConfig } from "../schemas/plant-types.ts";
import { createScaleLink } from "./scale-link.ts";
import { backendCpuMs, withApplicationName } from "./server-cpu.ts";
import type { Workspace } from "./workspace.ts";

const countRow = z.object({ n: z.number() });
const cycleRow = z.object({ cycles: z.number(), whole: z.number() });

/** A plant file of `units` scale units with `tags` tags in all, every tag stored every `periodMs`. */
function scalePlantText(tags: number, units: number, periodMs: number, schema: string): string {
  const lines = ["plant: scale-bench", "units:"];
  const perUnit = Math.ceil(tags / units);
  let made = 0;
  for (let u = 0; u < units && made < tags; u++) {
    lines.push(`  U${u}:`, "    protocol: modbus-tcp", "    host: 127.0.0.1", "    tags:");
    for (let t = 0; t < perUnit && made < tags; t++, made++) {
      lines.push(`      t${t}: { area: holding, address: ${t}, type: uint16 }`);
    }
  }
  lines.push(
    "storage:",
    `  period: ${periodMs}ms`,
    "  historian:",
    `    url: \${PB_BENCH_HISTORIAN_URL}`,
    `    schema: ${schema}`,
    "  spool: { synchronous: NORMAL }",
  );
  return `${lines.join("\n")}\n`;
}

interface Sample {
  at: number;
  health: PlantHealth;
}

/** Least-squares slope of y over x (per second when x is in ms). */
function slopePerSecond(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 1000;
}

/** storage.spool.batchSize's default, which the scale plant keeps. */
const batchSize = 5000;

const pendingOf = (h: PlantHealth): number => ("pending" in h.spool ? (h.spool.pending.postgres ?? 0) : 0);

/** What the end-to-end stage ramps through and holds (bench/end-to-end.ts). */
export interface EndToEndOptions {
  /** Nominal rates to try (samples/s), lowest first. */
  ramp: readonly number[];
  periodMs: number;
  units: number;
  /** Seconds before a step's hold starts (sink open, first cycles) and seconds held. */
  warmUpS: number;
  holdS: number;
  finalHoldS: number;
  say: (line: string) => void;
}

export interface StepResult {
  nominal: number;
  tags: number;
  /** Samples taken per second during the hold. */
  rate: number;
  /** Growth of the spool's backlog during the hold (samples/s; ≤ 0: it kept up). */
  growth: number;
  overruns: number;
  dropped: number;
  lateUnits: number;
  /** Cores the plant process used during the hold (its CPU time / wall time). */
  cores: number;
  /** CPU µs per sample taken: of the plant process, and of the PostgreSQL backends of its sink. */
  cpuUsPerSample: number;
  serverUsPerSample: number;
  /** The event loop's delay during the hold (p99 and max, ms): how late timers and I/O ran. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** Highest heap used and RSS of the process during the hold (MB). */
  heapMb: number;
  rssMb: number;
  sustained: boolean;
  /** The backlog did not grow (whatever the overruns). */
  keptUp: boolean;
  /** Samples taken, stored in the database, left in the spool after the flush. */
  taken: number;
  stored: number;
  left: number;
  wholeCycles: boolean;
}

interface Hold {
  rate: number;
  growth: number;
  overruns: number;
  dropped: number;
  lateUnits: number;
  cores: number;
  cpuUsPerSample: number;
  serverUsPerSample: number;
  loopP99Ms: number;
  loopMaxMs: number;
  heapMb: number;
  rssMb: number;
}

/** Reads the plant's health every 0.5 s for `holdS` seconds; the figures of that stretch. */
async function watchHold(
  plant: RunningPlant,
  pool: DatabasePool,
  backends: string,
  holdS: number,
): Promise<Hold> {
  const samples: Sample[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const serverAtStart = await backendCpuMs(pool, backends);
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  const first = plant.health();
  samples.push({ at: started, health: first });
  let heapMb = 0;
  let rssMb = 0;
  while (performance.now() - started < holdS * 1000) {
    await new Promise((r) => setTimeout(r, 500));
    samples.push({ at: performance.now(), health: plant.health() });
    const memory = process.memoryUsage();
    heapMb = Math.max(heapMb, memory.heapUsed / 2 ** 20);
    rssMb = Math.max(rssMb, memory.rss / 2 ** 20);
  }
  const cpu = process.cpuUsage(cpuAtStart);
  const serverMs = (await backendCpuMs(pool, backends)) - serverAtStart;
  loopDelay.disable();
  const last = samples.at(-1) as Sample;
  const taken = last.health.storage.samples - first.storage.samples;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    rate: taken / ((last.at - started) / 1000),
    growth: slopePerSecond(samples.map((s) => ({ x: s.at, y: pendingOf(s.health) }))),
    overruns: last.health.storage.overruns - first.storage.overruns,
    dropped: last.health.storage.dropped + ("dropped" in last.health.spool ? last.health.spool.dropped : 0),
    lateUnits: last.health.storage.lateUnits - first.storage.lateUnits,
    cores: cpuMs / (last.at - started),
    cpuUsPerSample: (cpuMs * 1000) / taken,
    serverUsPerSample: (serverMs * 1000) / taken,
    loopP99Ms: loopDelay.percentile(99) / 1e6,
    loopMaxMs: loopDelay.max / 1e6,
    heapMb,
    rssMb,
  };
}

/** After the stop: rows stored, samples the flush left in the spool (read from the file), cycles whole. */
async function countStored(pool: DatabasePool, schema: string, tags: number, spoolPath: string) {
  const samplesTable = sql.identifier([schema, "samples"]);
  const stored = await pool.oneFirst(sql.type(countRow)`SELECT count(*) AS n FROM ${samplesTable}`);
  const cycles = await pool.one(sql.type(cycleRow)`
    SELECT count(*) AS cycles, count(*) FILTER (WHERE n = ${tags}) AS whole
    FROM (SELECT time, count(*) AS n FROM ${samplesTable} GROUP BY time) c`);
  const reader = openSpoolReader(spoolPath);
  try {
    const left = reader.report().sinks.reduce((n, s) => n + s.pending, 0);
    return { stored, left, wholeCycles: cycles.cycles === cycles.whole };
  } finally {
    reader.close();
  }
}

/** One step: the plant on a fresh spool and schema at `nominal` samples/s, held `holdS` seconds, stopped, counted. */
export async function runStep(
  workspace: Workspace,
  nominal: number,
  holdS: number,
  options: EndToEndOptions,
  label: string,
): Promise<StepResult> {
  const { say, periodMs } = options;
  const tags = Math.round((nominal * periodMs) / 1000);
  const schema = workspace.schemaName("e2e");
  /** The application_name of the sink's connections: their backends' CPU is the server's side. */
  const backends = `${schema}_sink`;
  const dir = join(workspace.dir, `e2e-${schema}`);
  const plant: PlantConfig = loadPlantText(
    scalePlantText(tags, options.units, periodMs, schema),
    join(dir, "scale.yaml"),
    { varDir: dir, env: { PB_BENCH_HISTORIAN_URL: withApplicationName(workspace.databaseUrl, backends) } },
  );
  let running: RunningPlant | undefined;
  const pool = await workspace.pool();
  try {
    running = await startPlant(plant, {
      log: silentLog(),
      shutdownFlushMs: 120_000,
      createLink: (unit) => createScaleLink(unit.name),
    });
    say(
      `e2e: ${label}: ${tags} tags every ${periodMs} ms (${nominal} samples/s nominal), warming up ${options.warmUpS} s`,
    );
    await new Promise((r) => setTimeout(r, options.warmUpS * 1000));
    const hold = await watchHold(running, pool, backends, holdS);
    // Kept up: the backlog's trend stays within its noise (it swings by whole batches, up to a
    // delivery of 16 at a time): less than 1 % of the rate, or two batches over the hold.
    const keptUp = hold.growth <= Math.max(0.01 * hold.rate, (2 * batchSize) / holdS);
    const sustained = keptUp && hold.overruns === 0 && hold.dropped === 0 && hold.lateUnits === 0;
    say(
      `e2e: ${label}: ${Math.round(hold.rate)} samples/s, backlog ${hold.growth >= 0 ? "+" : ""}${Math.round(hold.growth)}/s, ` +
        `overruns ${hold.overruns}, ${hold.cores.toFixed(2)} cores, event loop delay p99 ${hold.loopP99Ms.toFixed(0)} ms ` +
        `max ${hold.loopMaxMs.toFixed(0)} ms, heap ≤ ${hold.heapMb.toFixed(0)} MB, RSS ≤ ${hold.rssMb.toFixed(0)} MB: ` +
        `${sustained ? "sustained" : "NOT sustained"}; stopping (flush)`,
    );
    await running.stop();
    const taken = running.health().storage.samples;
    const counted = await countStored(pool, schema, tags, plant.storage.spool.path);
    return { nominal, tags, ...hold, sustained, keptUp, taken, ...counted };
  } finally {
    await running?.stop().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await workspace.dropSchema(schema).catch(() => undefined);
  }
}
