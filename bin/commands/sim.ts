import { join, resolve } from "node:path";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { CommonOptions } from "../cli-options.ts";
import { countStoredSamples, type UnitCounts } from "../runtime/historian-counts.ts";
import { bundledConfig } from "../runtime/paths.ts";
import { createPlantLog } from "../runtime/plant-log.ts";
import { waitForStop } from "../runtime/signals.ts";
import { startSimulators } from "../runtime/simulators.ts";
import { startPlant } from "../runtime/start-plant.ts";

/**
 * `plantbridge sim`: PEMEL (Modbus TCP) and METH (OPC UA) simulators on loopback, the embedded PostgreSQL,
 * and the plant of config/sim.yaml — no other set-up. With --duration, prints one JSON line and exits 0.
 */
export async function simCommand(options: CommonOptions): Promise<number> {
  const varDir = resolve(options.varDir ?? join("var", "sim"));
  const log = createPlantLog(varDir, options.logLevel);
  const started = Date.now();
  const simulators = await startSimulators({ varDir, log, faults: options.faults });
  try {
    const plant = await loadPlantFile(bundledConfig("sim.yaml"), {
      env: { ...process.env, ...simulators.env },
      varDir,
    });
    const running = await startPlant(plant, { log, inspectPort: options.inspectPort });
    simulators.startFaultSchedule();
    const reason = await Promise.race([
      waitForStop(log, options.durationS),
      running.stopped.then(() => "stopped" as const),
    ]);
    let stored: Record<string, UnitCounts> = {};
    await running.stop(async (url) => {
      if (plant.storage.historian.layout === "narrow")
        stored = await countStoredSamples(url, plant.storage.historian);
    });
    const health = running.health();
    const pemelWrites = simulators.pemel.served.writes;
    const summary = {
      reason,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      samplesStored: Object.fromEntries(Object.entries(stored).map(([unit, c]) => [unit, c.samples])),
      badSamplesStored: Object.fromEntries(Object.entries(stored).map(([unit, c]) => [unit, c.bad])),
      signalsStored: Object.values(stored).reduce((n, c) => n + c.signals, 0),
      controlWrites: pemelWrites.length,
      lastCurrentWritten: pemelWrites.at(-1)?.value ?? null,
      faultsSeen: Object.fromEntries(Object.entries(health.units).map(([unit, u]) => [unit, u.faults])),
      faultsInjected: simulators.injected(),
      spool: health.spool,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  } finally {
    await simulators.stop();
    log.flush();
  }
}
