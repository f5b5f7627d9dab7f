/**
 * `npm run bench`: plantbridge's figures, each against a baseline measured in the same run.
 *
 *   node bench/run.ts [--only control,modbus,historian,spool,e2e,gateway,rss] [--quick]
 *
 * Prints one table per figure on stdout (progress goes to stderr). Each stage returns its headline
 * figures under flat keys (`ingest.ratio_vs_copy_text`, `e2e.max_samples_per_s`, …); they are merged
 * into one flat object: a full run writes it to bench/results.json (in the repo, committed with the
 * release bench), a partial (--only) or --quick run to var/bench/results.json, so a smoke test never
 * overwrites figures to quote. Every repeat of every figure goes to var/bench/results-detail.json.
 * It reports; it does not judge: no threshold fails it. It exits 1 only when a bench could not run.
 * --quick runs every bench with small counts (a smoke test of the bench itself, not figures to quote).
 */

import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { routeOpcuaLibraryLogs } from "../bin/runtime/opcua-library-log.ts";
import { errorMessage } from "../lib/errors.ts";
import { createLog } from "../lib/log.ts";
import { benchControlLatency } from "./control-latency.ts";
import { benchEndToEnd } from "./end-to-end.ts";
import { benchGatewayDemotion } from "./gateway-demotion.ts";
import { benchHistorianIngest } from "./historian-ingest.ts";
import { benchModbusScan } from "./modbus-scan.ts";
import { benchRss } from "./rss.ts";
import { benchSpoolAppend } from "./spool-append.ts";
import { formatSection, mergeFlat, type SectionResult } from "./stats.ts";
import { benchVarDir, openWorkspace, repoRoot, type Workspace } from "./workspace.ts";

const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 24) {
  process.stderr.write(
    `bench: Node ${process.versions.node} runs this; plantbridge pins Node 24: run it as \`npm run bench\`.\n`,
  );
  process.exit(1);
}

const benchNames = ["control", "modbus", "historian", "spool", "e2e", "gateway", "rss"] as const;
type BenchName = (typeof benchNames)[number];

const { values: args } = parseArgs({
  options: { only: { type: "string" }, quick: { type: "boolean", default: false } },
});
const only = args.only?.split(",").map((s) => s.trim()) ?? [...benchNames];
const unknown = only.filter((name) => !(benchNames as readonly string[]).includes(name));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown bench ${unknown.join(", ")}; choose from ${benchNames.join(", ")}\n`);
  process.exit(2);
}
const quick = args.quick === true;
const repeats = 3;

const started = Date.now();
const loadAtStart = loadavg();
const say = (line: string) => {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};

const benches: Record<BenchName, (ws: Workspace) => Promise<SectionResult>> = {
  control: (ws) =>
    benchControlLatency(ws, {
      repeats,
      changes: quick ? { fast: 40, default: 20, polling: 5 } : { fast: 200, default: 80, polling: 16 },
      warmUpChanges: 3,
      say,
    }),
  modbus: (ws) =>
    benchModbusScan(ws, { repeats, scans: quick ? 200 : 1000, warmUpScans: quick ? 20 : 100, say }),
  historian: (ws) =>
    benchHistorianIngest(ws, {
      repeats,
      samples: quick ? 20_000 : 200_000,
      insertSamples: quick ? 5_000 : 10_000,
      batchSize: 5_000,
      depth: 2,
      say,
    }),
  spool: (ws) =>
    benchSpoolAppend(ws, {
      repeats,
      cycles: quick ? { OFF: 300, NORMAL: 300, FULL: 100 } : { OFF: 2000, NORMAL: 1000, FULL: 500 },
      warmUpCycles: quick ? 50 : 100,
      say,
    }),
  e2e: (ws) =>
    benchEndToEnd(ws, {
      ramp: quick ? [5_000, 10_000] : [25_000, 50_000, 75_000, 100_000, 150_000],
      periodMs: 100,
      units: 10,
      warmUpS: 2,
      holdS: quick ? 3 : 8,
      finalHoldS: quick ? 5 : 60,
      say,
    }),
  gateway: (ws) => benchGatewayDemotion(ws, { spanMs: quick ? 3_000 : 15_000, chunks: quick ? 3 : 5, say }),
  rss: (ws) => benchRss(ws, { seconds: quick ? 10 : 30, say }),
};

// node-opcua prints with console.log: its warnings go to stderr, never into the table on stdout.
routeOpcuaLibraryLogs(createLog({ level: "warn" }));

const results: SectionResult[] = [];
const failures: { bench: string; error: string }[] = [];
const workspace = await openWorkspace(say);
try {
  for (const name of benchNames) {
    if (!only.includes(name)) continue;
    try {
      results.push(await benches[name](workspace));
    } catch (e) {
      say(`${name} bench failed: ${errorMessage(e)}`);
      failures.push({ bench: name, error: errorMessage(e) });
    }
  }
} finally {
  await workspace.close();
}

const seconds = (Date.now() - started) / 1000;
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.versions.node,
  platform: `${process.platform} ${process.arch}`,
  /** 1-minute load average at the start and the end: how busy the machine was with other work. */
  loadAverage: { start: Math.round(loadAtStart[0]! * 10) / 10, end: Math.round(loadavg()[0]! * 10) / 10 },
};
const lines = [
  `plantbridge bench — ${new Date(started).toISOString()} — ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, ` +
    `load average ${machine.loadAverage.start} at the start, ${machine.loadAverage.end} at the end` +
    `${quick ? " — QUICK MODE: small counts, not figures to quote" : ""}`,
  `database: ${workspace.databaseKind}; every figure is the median of ${repeats} runs; ` +
    "a ratio is named numerator / denominator (plantbridge against a baseline: > 1 favours plantbridge).",
  "",
];
for (const section of results) lines.push(...formatSection(section), "");
for (const failure of failures) lines.push(`## ${failure.bench}: FAILED — ${failure.error}`, "");
lines.push(`total ${seconds.toFixed(0)} s`);
process.stdout.write(`${lines.join("\n")}\n`);

const partial = quick || only.length < benchNames.length;
const flat = {
  "run.date": new Date(started).toISOString(),
  "run.seconds": Math.round(seconds),
  "run.quick": quick,
  "run.stages": only.join(","),
  "run.cpus": machine.cpus,
  "run.node": machine.node,
  "run.database": workspace.databaseKind,
  "run.load_average_start": machine.loadAverage.start,
  "run.load_average_end": machine.loadAverage.end,
  ...mergeFlat(results),
};
await mkdir(benchVarDir, { recursive: true });
const resultsFile = partial ? join(benchVarDir, "results.json") : join(repoRoot, "bench", "results.json");
await writeFile(resultsFile, `${JSON.stringify(flat, null, 2)}\n`);
const detailFile = join(benchVarDir, "results-detail.json");
await writeFile(
  detailFile,
  `${JSON.stringify({ date: new Date(started).toISOString(), seconds, quick, repeats, machine, database: workspace.databaseKind, results, failures }, null, 2)}\n`,
);
say(`figures written to ${resultsFile}, every repeat to ${detailFile}`);
process.exit(failures.length > 0 ? 1 : 0);
