import { join, resolve } from "node:path";
import { effectiveHttp } from "../../status/address.ts";
import { createGate } from "../../status/auth.ts";
import type { CommonOptions } from "../cli-options.ts";
import { announce } from "../runtime/announce.ts";
import { checkFaultSpecs } from "../runtime/fault-schedule.ts";
import type { UnitCounts } from "../runtime/historian-counts.ts";
import type { RunningSimulators } from "../runtime/simulators.ts";

/**
 * `plantbridge sim`: PEMEL (Modbus TCP) and METH (OPC UA) simulators on loopback, the embedded PostgreSQL,
 * and the plant of config/sim.yaml — no other set-up. With --duration, prints one JSON line and exits 0.
 */
export async function simCommand(options: CommonOptions): Promise<number> {
  if (options.scale !== undefined) return (await import("./sim-scale.ts")).simScaleCommand(options);
  const varDir = resolve(options.varDir ?? join("var", "sim"));
  // A bad --fault spec ends the command before anything is created, started or even loaded.
  checkFaultSpecs(options.faults);
  const [
    { loadPlantFile },
    { countStoredSamples },
    { bundledConfig },
    { createPlantLog },
    { waitForStop },
    { startSimulators },
    { startPlant },
    { watchFatalErrors },
    { routeOpcuaLibraryLogs },
  ] = await Promise.all([
    import("../../schemas/load-plant.ts"),
    import("../runtime/historian-counts.ts"),
    import("../runtime/paths.ts"),
    import("../runtime/plant-log.ts"),
    import("../runtime/signals.ts"),
    import("../runtime/simulators.ts"),
    import("../runtime/start-plant.ts"),
    import("../runtime/fatal-errors.ts"),
    import("../runtime/opcua-library-log.ts"),
  ]);
  const log = createPlantLog(varDir, options.logLevel);
  // The METH simulator is a node-opcua server: its library's chatter goes into the log, not stdout.
  routeOpcuaLibraryLogs(log);
  const fatalError = watchFatalErrors(log);
  const started = Date.now();
  const simulators = await startSimulators({ varDir, log, faults: options.faults });
  try {
    const plant = await loadPlantFile(bundledConfig("sim.yaml"), {
      env: { ...process.env, ...simulators.env },
      varDir,
    });
    const http = effectiveHttp(plant.http, options.http);
    if (http !== false) createGate(http.host, http.token);
    const running = await startPlant(plant, {
      log,
      ...(options.inspect !== undefined ? { inspect: options.inspect } : {}),
      ...(http !== false ? { http } : {}),
    });
    announce(running);
    simulators.startFaultSchedule();
    const ended = await Promise.race([
      waitForStop(log, options.durationS).then((reason) => ({ reason, fatal: null })),
      running.stopped.then((output) => ({ reason: "stopped" as const, fatal: output.fatal })),
      fatalError.then((fatal) => ({ reason: "fatal" as const, fatal })),
    ]);
    const reason = ended.fatal === null ? ended.reason : "fatal";
    let stored: Record<string, UnitCounts> = {};
    await running.stop(async (url) => {
      if (plant.storage.historian.layout === "narrow")
        stored = await countStoredSamples(url, plant.storage.historian);
    });
    const health = running.health();
    const pemelWrites = simulators.pemel.served.writes;
    const summary = {
      reason,
      ...(ended.fatal !== null ? { fatal: ended.fatal } : {}),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      samplesStored: Object.fromEntries(Object.entries(stored).map(([unit, c]) => [unit, c.samples])),
      badSamplesStored: Object.fromEntries(Object.entries(stored).map(([unit, c]) => [unit, c.bad])),
      signalsStored: Object.values(stored).reduce((n, c) => n + c.signals, 0),
      controlWrites: pemelWrites.length,
      lastCurrentWritten: pemelWrites.at(-1)?.value ?? null,
      faultsSeen: Object.fromEntries(Object.entries(health.units).map(([unit, u]) => [unit, u.faults])),
      faultsInjected: simulators.injected(),
      served: servedBySimulators(simulators),
      spool: health.spool,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return ended.fatal === null ? 0 : 1;
  } finally {
    await simulators.stop();
    log.flush();
  }
}

/**
 * What the simulators' own logs say they served: PEMEL's reads per request shape (area, first
 * address, count; storage's request of config/sim.yaml is `holding:0x8061+18`), writes and
 * exception replies; METH's service counters. The summary's stored counts are held against these.
 */
function servedBySimulators(simulators: RunningSimulators) {
  const pemel = simulators.pemel.served;
  const readsByRequest: Record<string, number> = {};
  for (const r of pemel.reads) {
    const key = `${r.area}:0x${r.address.toString(16)}+${r.count}`;
    readsByRequest[key] = (readsByRequest[key] ?? 0) + 1;
  }
  return {
    PEMEL: {
      reads: pemel.readCount,
      readsByRequest,
      writes: pemel.writeCount,
      exceptions: pemel.exceptionCount,
      unanswered: pemel.unansweredCount,
    },
    METH: { ...simulators.meth.served },
  };
}
