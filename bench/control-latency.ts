/**
 * Control latency: from METH's H2 demand changing (`meth.setDemand`, stamped) to PEMEL serving the
 * write of the new current set point (`pemel.served.writes`, stamped by the same clock).
 *
 * The real plant runs as its own process (`plantbridge run`, control-plant.ts: both links, the control
 * loop, storage every second, the forwarder into a PostgreSQL schema), the two simulators in the
 * bench's process, where both stamps are taken by one clock. Three variants: config/sim-fast.yaml (METH publishing every 10 ms, the demand
 * sampled at 0), config/sim.yaml as configured (the 100 ms defaults), both on change through the
 * OPC UA subscription plus the 1 s period; and the original tool's rule: `onChange: false`, a 1 s
 * period and the demand read (polled) by the loop each period. Each change waits for its write; the
 * pause before the next change is random, so changes fall at every phase of the loop's schedule.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { ControlLoopConfig, PlantConfig } from "../schemas/plant-types.ts";
import { type ControlPlant, startControlPlant, writePollingPlant } from "./control-plant.ts";
import { type DemandStep, demandSequence, demandSteps, seededRandom } from "./demand-plan.ts";
import {
  addressesOf,
  loadSimPlant,
  preciseClock,
  type SimulatedUnits,
  startSimulatedUnits,
} from "./sim-plant.ts";
import {
  latencySummary,
  type Variant as ResultVariant,
  ratioOf,
  type SectionResult,
  variantOf,
} from "./stats.ts";
import { repoRoot, type Workspace } from "./workspace.ts";

export type VariantKey = "fast" | "default" | "polling";

export interface ControlLatencyOptions {
  repeats: number;
  /** Measured demand changes per run of each variant. */
  changes: Record<VariantKey, number>;
  /** Changes before each run's measured ones (not counted); the polling baseline takes one. */
  warmUpChanges: number;
  say: (line: string) => void;
}

interface Variant {
  key: VariantKey;
  label: string;
  role: "plantbridge" | "baseline";
  /** The plant file the child runs (with the simulators' addresses from the environment). */
  file: string;
  changes: number;
  warmUpChanges: number;
  /** Pause before each change is drawn from [0, pauseMs): changes fall at every phase of the schedule. */
  pauseMs: number;
}

interface RunOutcome {
  latencies: number[];
  missed: number;
  otherWrites: number;
  /** CPU per measured change (ms) of the bench's process (simulators and bench) and of the plant's. */
  benchCpuMsPerChange: number;
  plantCpuMsPerChange: number;
  /** The bench process's event-loop delay over the measured changes, p99 (ms). */
  benchLoopDelayP99Ms: number;
}

const changeDeadlineMs = 5_000;
const warmUpDeadlineMs = 20_000;
const pollMs = 2;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, condition: () => boolean, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end)
      throw new Error(`control latency: timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The publishing interval of the loop input's unit and the input tag's sampling interval. */
function subscriptionOf(
  plant: PlantConfig,
  loop: ControlLoopConfig,
): { publishingMs: number; samplingMs: number } {
  const unit = plant.units.find((u) => u.name === loop.input.unit);
  if (unit?.protocol !== "opcua") throw new Error(`loop ${loop.name}: its input unit is not an OPC UA unit`);
  const tag = unit.tags.find((t) => t.name === loop.input.tag);
  if (tag === undefined) throw new Error(`loop ${loop.name}: no input tag ${loop.input.tag}`);
  return { publishingMs: unit.publishingIntervalMs, samplingMs: tag.samplingIntervalMs };
}

/**
 * Sets one demand and waits for PEMEL to serve the matching set point write.
 * Returns the latency in ms, or undefined when it did not come within the deadline.
 */
async function oneChange(
  units: SimulatedUnits,
  plant: ControlPlant,
  step: DemandStep,
  deadlineMs: number,
): Promise<{ latency?: number; otherWrites: number }> {
  const served = units.pemel.served;
  let seen = served.writeCount;
  let otherWrites = 0;
  const changedAt = preciseClock();
  units.meth.setDemand(step.demand);
  const end = Date.now() + deadlineMs;
  for (;;) {
    const fresh = served.writeCount - seen;
    if (fresh > 0) {
      const writes = served.writes.slice(-fresh);
      seen = served.writeCount;
      for (const write of writes) {
        if (write.time >= changedAt && write.value === step.setPoint) {
          return { latency: write.time - changedAt, otherWrites };
        }
        otherWrites++;
      }
    }
    plant.assertRunning();
    if (Date.now() > end) return { otherWrites };
    await sleep(pollMs);
  }
}

async function measuredChanges(
  units: SimulatedUnits,
  plant: ControlPlant,
  variant: Variant,
  steps: readonly DemandStep[],
  random: () => number,
  previous: number | undefined,
): Promise<RunOutcome> {
  const latencies: number[] = [];
  let missed = 0;
  let otherWrites = 0;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const benchCpu = process.cpuUsage();
  const plantCpu = plant.cpuUs();
  delay.enable();
  for (const step of demandSequence(steps, variant.changes, random, previous)) {
    await sleep(random() * variant.pauseMs);
    const result = await oneChange(units, plant, step, changeDeadlineMs);
    otherWrites += result.otherWrites;
    if (result.latency === undefined) missed++;
    else latencies.push(result.latency);
  }
  delay.disable();
  // The probe reports every 100 ms: let one more report in, so the plant's CPU covers the changes.
  await sleep(150);
  const used = process.cpuUsage(benchCpu);
  const perChange = (us: number) => Math.round((us / 1000 / variant.changes) * 100) / 100;
  return {
    latencies,
    missed,
    otherWrites,
    benchCpuMsPerChange: perChange(used.user + used.system),
    plantCpuMsPerChange: perChange(plant.cpuUs() - plantCpu),
    benchLoopDelayP99Ms: Math.round(delay.percentile(99) / 1e4) / 100,
  };
}

async function runOnce(
  units: SimulatedUnits,
  variant: Variant,
  run: { varDir: string; env: Record<string, string> },
  steps: readonly DemandStep[],
  random: () => number,
): Promise<RunOutcome> {
  const plant = await startControlPlant({ label: `the ${variant.key} plant`, file: variant.file, ...run });
  let stopped = false;
  try {
    let previous: number | undefined;
    for (const step of demandSequence(steps, variant.warmUpChanges, random)) {
      const outcome = await oneChange(units, plant, step, warmUpDeadlineMs);
      if (outcome.latency === undefined) {
        throw new Error(
          `control latency (${variant.key}): the warm-up set point ${step.setPoint} A never arrived`,
        );
      }
      previous = step.setPoint;
    }
    const outcome = await measuredChanges(units, plant, variant, steps, random, previous);
    stopped = true;
    await plant.stop();
    return outcome;
  } finally {
    if (!stopped) await plant.kill();
  }
}

function subscriptionLabel(plant: PlantConfig, loop: ControlLoopConfig): string {
  const { publishingMs, samplingMs } = subscriptionOf(plant, loop);
  return `publishing ${publishingMs} ms, sampling ${samplingMs} ms`;
}

const simFastYaml = join(repoRoot, "config", "sim-fast.yaml");
const simYaml = join(repoRoot, "config", "sim.yaml");

const tagOf = (ref: { unit: string; tag: string }) => `${ref.unit}.${ref.tag}`;

/** The generated polling plant must be the original tool's rule, or the baseline means nothing. */
function checkPolling(plant: PlantConfig, loop: ControlLoopConfig): void {
  const unit = plant.units.find((u) => u.name === loop.input.unit);
  const tag = unit?.protocol === "opcua" ? unit.tags.find((t) => t.name === loop.input.tag) : undefined;
  if (loop.onChange || loop.periodMs !== 1_000 || tag?.mode !== "poll")
    throw new Error(
      `${plant.file}: not the polling baseline (onChange false, period 1 s, the demand polled)`,
    );
}

export async function benchControlLatency(
  workspace: Workspace,
  options: ControlLatencyOptions,
): Promise<SectionResult> {
  const { say } = options;
  const schema = workspace.schemaName("control");
  const units = await startSimulatedUnits(workspace.dir, { pemel: { warmUpMs: 1_000 } });
  try {
    let runNumber = 0;
    // What the plant process reads from the environment (config/sim.yaml's variables).
    const env = {
      PB_SIM_PEMEL_PORT: String(units.pemel.port),
      PB_SIM_METH_ENDPOINT: units.meth.endpoint,
      PB_SIM_METH_PASSWORD: units.methPassword,
      PB_HISTORIAN_URL: workspace.databaseUrl,
      PB_HISTORIAN_SCHEMA: schema,
    };
    // The bench loads each plant file too: for the loop's curve (the set point of each demand) and the labels.
    const plantFor = async (file: string) => {
      const plant = await loadSimPlant(addressesOf(units), {
        varDir: workspace.dir,
        historianUrl: workspace.databaseUrl,
        schema,
        spoolPath: join(workspace.dir, "control-spool.sqlite"),
        file,
      });
      const loop = plant.control[0];
      if (loop === undefined) throw new Error(`${plant.file} has no control loop`);
      return { plant, loop };
    };
    const fast = await plantFor(simFastYaml);
    const configured = await plantFor(simYaml);
    const loop = configured.loop;
    const polling = await plantFor(await writePollingPlant(workspace.dir, loop.name, tagOf(loop.input)));
    checkPolling(polling.plant, polling.loop);
    const steps = await demandSteps(loop);
    const onChange = (l: ControlLoopConfig) => (l.onChange ? "on change + " : "no on-change, ");
    const variants: Variant[] = [
      {
        key: "fast",
        label: `sim-fast.yaml: ${onChange(fast.loop)}${subscriptionLabel(fast.plant, fast.loop)}`,
        role: "plantbridge",
        file: simFastYaml,
        changes: options.changes.fast,
        warmUpChanges: options.warmUpChanges,
        pauseMs: 2 * subscriptionOf(fast.plant, fast.loop).publishingMs,
      },
      {
        key: "default",
        label: `sim.yaml: ${onChange(loop)}${subscriptionLabel(configured.plant, loop)}`,
        role: "plantbridge",
        file: simYaml,
        changes: options.changes.default,
        warmUpChanges: options.warmUpChanges,
        pauseMs: subscriptionOf(configured.plant, loop).publishingMs,
      },
      {
        key: "polling",
        label: "original rule: demand polled every 1 s",
        role: "baseline",
        file: polling.plant.file,
        changes: options.changes.polling,
        warmUpChanges: 1,
        pauseMs: 1_000,
      },
    ];
    await waitUntil(
      "PEMEL status bit 10 (H2 cooling temperature reached)",
      () => units.pemel.state().coolingReady,
      30_000,
    );

    const repeats: Record<VariantKey, Record<string, number>[]> = { fast: [], default: [], polling: [] };
    const raw: Record<VariantKey, number[][]> = { fast: [], default: [], polling: [] };
    const random = seededRandom(20_240_601);
    for (let r = 0; r < options.repeats; r++) {
      // Rotate the order, so no variant always runs first.
      const order = variants.map((_, i) => variants[(i + r) % variants.length] as Variant);
      for (const variant of order) {
        // A fresh var folder (spool, log) per run.
        const varDir = join(workspace.dir, `control-var-${runNumber++}`);
        say(
          `control latency: ${variant.key} run ${r + 1}/${options.repeats} (${variant.changes} changes, load ${loadavg()[0]?.toFixed(1)})`,
        );
        const outcome = await runOnce(units, variant, { varDir, env }, steps, random);
        raw[variant.key].push(outcome.latencies.map((ms) => Math.round(ms * 100) / 100));
        repeats[variant.key].push({
          ...latencySummary(outcome.latencies),
          missed: outcome.missed,
          otherWrites: outcome.otherWrites,
          "bench CPU ms/change": outcome.benchCpuMsPerChange,
          "plant CPU ms/change": outcome.plantCpuMsPerChange,
          "bench loop delay p99": outcome.benchLoopDelayP99Ms,
        });
      }
    }
    const [fastVariant, defaultVariant, pollingVariant] = variants.map((v) =>
      variantOf(v.label, v.role, repeats[v.key]),
    ) as [ResultVariant, ResultVariant, ResultVariant];
    const ratios = [
      ratioOf("p99 polling / 10 ms", pollingVariant, fastVariant, "p99"),
      ratioOf("p50 polling / 10 ms", pollingVariant, fastVariant, "p50"),
      ratioOf("p99 polling / defaults", pollingVariant, defaultVariant, "p99"),
      ratioOf("p99 defaults / 10 ms", defaultVariant, fastVariant, "p99"),
    ];
    const figure = (v: ResultVariant, name: string) => v.figures[name] ?? Number.NaN;
    const missed = (key: VariantKey) => repeats[key].reduce((n, r) => n + (r.missed ?? 0), 0);
    return {
      id: "control-latency",
      title: "1. Control latency: METH demand change → new set point served by PEMEL",
      columns: [
        { name: "n", unit: "" },
        { name: "p50", unit: "ms" },
        { name: "p95", unit: "ms" },
        { name: "p99", unit: "ms" },
        { name: "max", unit: "ms" },
        { name: "missed", unit: "" },
      ],
      variants: [fastVariant, defaultVariant, pollingVariant],
      raw: {
        "latencies ms, 10 ms configuration, per run": raw.fast,
        "latencies ms, 100 ms defaults, per run": raw.default,
        "latencies ms, polling baseline, per run": raw.polling,
      },
      ratios,
      goal:
        "p99 <= 20 ms with the 10 ms configuration (config/sim-fast.yaml), >= 40x the 1 s polling baseline's p99. " +
        "STACK reference: an OPC UA subscription alone at node-opcua's 50 ms defaults delivers a change in 34 ms p50 / 82 ms p99.",
      notes: [
        `Changes per run: ${options.changes.fast} (10 ms, pause 0–${variants[0]?.pauseMs} ms before each), ` +
          `${options.changes.default} (defaults, pause 0–${variants[1]?.pauseMs} ms: one publishing cycle), ` +
          `${options.changes.polling} (polling, pause 0–1000 ms, so changes hit every phase of the 1 s schedule); ` +
          `warm-up changes not counted; figures are medians of ${options.repeats} runs.`,
        "The whole plant runs: both links, the control loop (permissive read from PEMEL each evaluation), " +
          "storage every 1 s and the forwarder into PostgreSQL, as its own process (`plantbridge run` with the plant's " +
          "node flags and its status server, ready when GET /health shows both units connected); both simulators run " +
          "in the bench's process, which stamps the demand change and PEMEL's served write with one clock.",
        `CPU per measured change, 10 ms configuration (medians): bench process (both simulators and the bench) ` +
          `${figure(fastVariant, "bench CPU ms/change")} ms, plant process ${figure(fastVariant, "plant CPU ms/change")} ms; ` +
          `the bench process's event-loop delay p99 ${figure(fastVariant, "bench loop delay p99")} ms.`,
        "Polling baseline: sim.yaml's loop with onChange false, period 1 s and the demand tag in poll mode (read each period, as the original tool did).",
        "missed = no matching write within 5 s (not in the percentiles).",
      ],
      flat: {
        "control.p50_ms": figure(fastVariant, "p50"),
        "control.p95_ms": figure(fastVariant, "p95"),
        "control.p99_ms": figure(fastVariant, "p99"),
        "control.max_ms": figure(fastVariant, "max"),
        "control.changes": options.changes.fast,
        "control.runs": options.repeats,
        "control.missed": missed("fast"),
        "control.default_p50_ms": figure(defaultVariant, "p50"),
        "control.default_p99_ms": figure(defaultVariant, "p99"),
        "control.default_changes": options.changes.default,
        "control.polling_p50_ms": figure(pollingVariant, "p50"),
        "control.polling_p99_ms": figure(pollingVariant, "p99"),
        "control.polling_changes": options.changes.polling,
        "control.ratio_p99_vs_polling": ratios[0]?.value ?? Number.NaN,
        "control.ratio_p50_vs_polling": ratios[1]?.value ?? Number.NaN,
        "control.default_ratio_p99_vs_polling": ratios[2]?.value ?? Number.NaN,
        "control.bench_cpu_ms_per_change": figure(fastVariant, "bench CPU ms/change"),
        "control.plant_cpu_ms_per_change": figure(fastVariant, "plant CPU ms/change"),
        "control.bench_loop_delay_p99_ms": figure(fastVariant, "bench loop delay p99"),
      },
    };
  } finally {
    await units.stop();
    await workspace.dropSchema(schema).catch(() => undefined);
  }
}
