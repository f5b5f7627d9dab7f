import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Log } from "../../lib/log.ts";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { PlantConfig } from "../../schemas/plant-types.ts";
import type { CommonOptions } from "../cli-options.ts";
import { loadPlantInputs } from "../runtime/plant-inputs.ts";
import type { RunningPlant } from "../runtime/start-plant.ts";
import type { SystemdNotifier } from "../runtime/systemd-notify.ts";

/** `plantbridge run FILE`: runs a plant until SIGINT/SIGTERM (or --duration), then shuts down cleanly. */
export async function runCommand(options: CommonOptions): Promise<number> {
  const file = options.positionals[0];
  if (file === undefined) {
    process.stderr.write("plantbridge run: name the plant file, e.g. plantbridge run config/plant.yaml\n");
    return 2;
  }
  const plant = await loadPlantFile(file, options.varDir ? { varDir: resolve(options.varDir) } : {});
  // Curve files are checked before anything (even the log) is created under the var folder, and
  // before the adapters (OPC UA, PostgreSQL, …) are loaded: a bad input fails at once.
  const inputs = await loadPlantInputs(plant);
  const [{ createPlantLog }, { waitForStop }, { startPlant }] = await Promise.all([
    import("../runtime/plant-log.ts"),
    import("../runtime/signals.ts"),
    import("../runtime/start-plant.ts"),
  ]);
  // Listen for SIGINT/SIGTERM before anything is created: a stop requested during start-up (the
  // embedded database's initdb takes a while) lets the start finish, then stops cleanly — never a
  // process killed half-way with a database server or a half-made data directory left behind.
  let log: Log | undefined;
  const signalled = waitForStop(() => log);
  log = createPlantLog(plant.varDir, options.logLevel);
  const running = await startPlant(plant, { log, inputs, inspectPort: options.inspectPort });
  const notifier = await notifySystemd(plant, running, log);
  const reason = await Promise.race([
    signalled,
    running.stopped.then(() => "stopped" as const),
    ...(options.durationS === undefined
      ? []
      : [sleep(options.durationS * 1000, "duration" as const, { ref: false })]),
  ]);
  await notifier?.stopping();
  await running.stop();
  notifier?.close();
  process.stdout.write(`${JSON.stringify({ plant: plant.name, reason, health: running.health() })}\n`);
  log.flush();
  return 0;
}

/**
 * Under systemd (Type=notify, see `plantbridge service install`): READY=1 now that the plant runs,
 * and the watchdog fed while its machines make progress. Nothing when not started by systemd.
 */
async function notifySystemd(
  plant: PlantConfig,
  running: RunningPlant,
  log: Log,
): Promise<SystemdNotifier | undefined> {
  if (!process.env.NOTIFY_SOCKET) return undefined;
  const [{ startSystemdNotifier }, { createLivenessCheck }] = await Promise.all([
    import("../runtime/systemd-notify.ts"),
    import("../runtime/plant-liveness.ts"),
  ]);
  const check = createLivenessCheck(plant, { now: () => performance.now(), minStallMs: 30_000 });
  const notifier = startSystemdNotifier({ env: process.env, log, liveness: () => check(running.health()) });
  await notifier?.ready(`running plant ${plant.name}`);
  return notifier;
}
