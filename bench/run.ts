/**
 * `npm run bench`: plantbridge's figures, each against a baseline measured in the same run.
 *
 *   node bench/run.ts [--only control,modbus,historian,spool,gateway] [--quick]
 *
 * Prints one table per figure on stdout (progress goes to stderr) and writes var/bench/results.json.
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
import { benchGatewayDemotion } from "./gateway-demotion.ts";
import { benchHistorianIngest } from "./historian-ingest.ts";
import { benchModbusScan } from "./modbus-scan.ts";
import { benchSpoolAppend } from "./spool-append.ts";
import { formatSection, type SectionResult } from "./stats.ts";
import { benchVarDir, openWorkspace, type Workspace } from "./workspace.ts";

const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 24) {
  process.stderr.write(
    `bench: Node ${process.versions.node} runs this; plantbridge pins Node 24: run it as \`npm run bench\`.\n`,
  );
  process.exit(1);
}

const benchNames = ["control", "modbus", "historian", "spool", "gateway"] as const;
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
      changes: quick ? { plantbridge: 20, baseline: 8 } : { plantbridge: 200, baseline: 60 },
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
      say,
    }),
  spool: (ws) =>
    benchSpoolAppend(ws, {
      repeats,
      cycles: quick ? { OFF: 300, NORMAL: 300, FULL: 100 } : { OFF: 2000, NORMAL: 1000, FULL: 500 },
      warmUpCycles: quick ? 50 : 100,
      say,
    }),
  gateway: (ws) => benchGatewayDemotion(ws, { spanMs: quick ? 3_000 : 15_000, chunks: quick ? 3 : 5, say }),
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

await mkdir(benchVarDir, { recursive: true });
const resultsFile = join(benchVarDir, "results.json");
await writeFile(
  resultsFile,
  `${JSON.stringify({ date: new Date(started).toISOString(), seconds, quick, repeats, machine, database: workspace.databaseKind, flat: Object.assign({}, ...results.map((r) => r.flat ?? {})), results, failures }, null, 2)}\n`,
);
say(`results written to ${resultsFile}`);
process.exit(failures.length > 0 ? 1 : 0);
