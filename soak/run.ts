/**
 * `npm run soak -- --minutes N [--seed S] [--fault-every S] [--var DIR]`: the reference plant on
 * the simulators, storage every second, a random fault every few seconds (every simulator fault,
 * historian outages through a proxy, wall-clock steps through the plant's clock), for N minutes.
 * Then every fault is cleared, the spool drains, the plant stops, and the run is counted: cycles
 * expected and stored, samples lost and duplicated, bad samples by reason, fail-safe writes, peak
 * RSS and heap, spool and log size. Exits 1 when a sample was lost or duplicated or the heap grew
 * without bound. One JSON line on stdout (progress on stderr).
 */
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startEmbeddedPostgres } from "../adapters/embedded-postgres/embedded.ts";
import { routeOpcuaLibraryLogs } from "../bin/runtime/opcua-library-log.ts";
import { bundledConfig } from "../bin/runtime/paths.ts";
import { startSimulators } from "../bin/runtime/simulators.ts";
import { startPlant } from "../bin/runtime/start-plant.ts";
import { steppableClock } from "../lib/clock.ts";
import { createLog } from "../lib/log.ts";
import { seededRandom } from "../lib/seeded-random.ts";
import { loadPlantFile } from "../schemas/load-plant.ts";
import { startTcpProxy } from "../simulators/network/tcp-proxy.ts";
import { drawFault } from "./fault-plan.ts";
import { createFaultRunner } from "./fault-runner.ts";
import { judgeMemory, startMemoryWatch } from "./memory-watch.ts";
import { accountSamples, tallyHistorian, tallySpool } from "./soak-report.ts";
import { fileSize, untilTrue } from "./soak-util.ts";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    seed: { type: "string" },
    "fault-every": { type: "string", default: "5" },
    var: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const minutes = Number(args.minutes);
const faultEveryMs = Number(args["fault-every"]) * 1000;
if (!(minutes > 0) || !(faultEveryMs > 0)) {
  process.stderr.write("soak: --minutes and --fault-every must be positive numbers\n");
  process.exit(2);
}
const seed = args.seed === undefined ? Date.now() % 1_000_000 : Number(args.seed);
const varDir = resolve(args.var ?? join("var", "soak", `run-${seed}`));
const started = performance.now();
const say = (line: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);

await rm(varDir, { recursive: true, force: true });
await mkdir(varDir, { recursive: true });
const log = createLog({ level: "info", file: join(varDir, "log", "plantbridge.log") });
routeOpcuaLibraryLogs(log);
say(`soak: ${minutes} min, a fault every ${faultEveryMs / 1000} s, seed ${seed}, var ${varDir}`);

const database = await startEmbeddedPostgres({
  dataDir: join(varDir, "postgres"),
  log: log.child({ part: "embedded-postgres" }),
});
const dbUrl = new URL(database.url);
const proxy = await startTcpProxy({ host: dbUrl.hostname, port: Number(dbUrl.port) });
const viaProxy = new URL(database.url);
viaProxy.port = String(proxy.port);
const simulators = await startSimulators({ varDir, log, faults: [] });
const clock = steppableClock();
const plant = await loadPlantFile(bundledConfig("sim.yaml"), {
  env: {
    ...process.env,
    ...simulators.env,
    PB_HISTORIAN_URL: viaProxy.toString(),
    PB_HISTORIAN_SCHEMA: "soak",
  },
  varDir,
});
const running = await startPlant(plant, { log, clock, shutdownFlushMs: 30_000 });
const memory = startMemoryWatch();
const random = seededRandom(seed);
const faults = createFaultRunner({ simulators, proxy, clock, log, say });
await untilTrue(
  "both units connected",
  () => {
    const units = running.health().units;
    return units.PEMEL?.state === "connected" && units.METH?.state === "connected";
  },
  60_000,
);
const soakFrom = performance.now();
const endAt = soakFrom + minutes * 60_000;
while (performance.now() < endAt) {
  const fault = drawFault(random, faults.busy(), clock.offsetMs);
  if (fault !== undefined) faults.start(fault);
  await new Promise((r) => setTimeout(r, faultEveryMs));
}

say("soak over: clearing every fault, letting the spool drain");
await faults.clearAll();
if (clock.offsetMs !== 0) clock.step(-clock.offsetMs);
const pendingOf = () => {
  const spool = running.health().spool;
  return "pending" in spool ? Object.values(spool.pending).reduce((n, p) => n + p, 0) : Number.NaN;
};
await untilTrue(
  "the units connected again and the spool drained",
  () => {
    const units = running.health().units;
    return units.PEMEL?.state === "connected" && units.METH?.state === "connected" && pendingOf() === 0;
  },
  180_000,
).catch((e: unknown) => say(`warning: ${String(e)}`));
const memoryFigures = memory.stop();
let historian = { rows: 0, bad: 0, badByReason: {} as Record<string, number> };
await running.stop(async () => {
  historian = await tallyHistorian(database.url, "soak");
});
const spool = tallySpool(plant.storage.spool.path);
await simulators.stop();
await proxy.close();
await database.stop();

const health = running.health();
const account = accountSamples(
  health.storage.samples,
  health.sinks.postgres?.delivered ?? 0,
  historian,
  spool,
);
const soakSeconds = (performance.now() - soakFrom) / 1000;
const failSafe = plant.control[0]?.failSafe.value;
const memoryVerdict = judgeMemory(memoryFigures);
const summary = {
  minutes,
  seed,
  seconds: Math.round(soakSeconds),
  faults: faults.count(),
  faultsByKind: faults.byKind(),
  cycles: {
    expected: Math.floor((soakSeconds * 1000) / plant.storage.periodMs),
    stored: health.storage.cycles,
    overruns: health.storage.overruns,
    lateUnits: health.storage.lateUnits,
    clockSteps: health.storage.clockSteps,
  },
  samples: {
    ...account,
    bad: historian.bad,
    memoryDropped: health.storage.dropped,
    spoolDropped: spool.dropped,
  },
  badByReason: historian.badByReason,
  deadLettersBySink: spool.deadLettersBySink,
  conflicts: spool.conflicts + (health.sinks.postgres?.conflicts ?? 0),
  failSafeWrites: simulators.pemel.served.writes.filter((w) => w.value === failSafe).length,
  controlWrites: simulators.pemel.served.writeCount,
  memory: memoryFigures.summary,
  memoryGrew: memoryVerdict.grew,
  memoryNote: memoryVerdict.note,
  spoolBytes: spool.fileBytes,
  logBytes: fileSize(join(varDir, "log", "plantbridge.log")),
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
log.flush();
const lostOrDuplicated =
  account.lost > 0 || account.duplicated > 0 || health.storage.dropped > 0 || spool.dropped > 0;
if (!args.keep && !lostOrDuplicated && !memoryVerdict.grew)
  await rm(varDir, { recursive: true, force: true });
say(
  lostOrDuplicated || memoryVerdict.grew
    ? `FAILED: lost ${account.lost}, duplicated ${account.duplicated}, memory ${memoryVerdict.note}`
    : `ok: nothing lost, nothing duplicated, memory flat (${memoryVerdict.note})`,
);
process.exit(lostOrDuplicated || memoryVerdict.grew ? 1 : 0);
