import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Log } from "../../lib/log.ts";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { PlantConfig } from "../../schemas/plant-types.ts";
import { effectiveHttp } from "../../status/address.ts";
import { createGate } from "../../status/auth.ts";
import type { CommonOptions } from "../cli-options.ts";
import { announce } from "../runtime/announce.ts";
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
  // A status server that would be reachable from elsewhere without a token stops the run before anything starts.
  const http = effectiveHttp(plant.http, options.http);
  if (http !== false) createGate(http.host, http.token);
  // Curve files are checked before anything (even the log) is created under the var folder, and
  // before the adapters (OPC UA, PostgreSQL, …) are loaded: a bad input fails at once.
  const inputs = await loadPlantInputs(plant);
  const [{ createPlantLog }, { waitForStop }, { startPlant }, { watchFatalErrors }] = await Promise.all([
    import("../runtime/plant-log.ts"),
    import("../runtime/signals.ts"),
    import("../runtime/start-plant.ts"),
    import("../runtime/fatal-errors.ts"),
  ]);
  // Listen for SIGINT/SIGTERM before anything is created: a stop requested during start-up (the
  // embedded database's initdb takes a while) lets the start finish, then stops cleanly — never a
  // process killed half-way with a database server or a half-made data directory left behind.
  let log: Log | undefined;
  const signalled = waitForStop(() => log);
  const fatalError = watchFatalErrors(() => log);
  log = createPlantLog(plant.varDir, options.logLevel);
  const running = await startPlant(plant, {
    log,
    inputs,
    ...(options.inspect !== undefined ? { inspect: options.inspect } : {}),
    ...(http !== false ? { http } : {}),
  });
  announce(running);
  const notifier = await notifySystemd(plant, running, log);
  const ended = await Promise.race([
    signalled.then((reason) => ({ reason, fatal: null })),
    running.stopped.then((output) => ({ reason: "stopped" as const, fatal: output.fatal })),
    fatalError.then((fatal) => ({ reason: "fatal" as const, fatal })),
    ...(options.durationS === undefined
      ? []
      : [sleep(options.durationS * 1000, { reason: "duration" as const, fatal: null }, { ref: false })]),
  ]);
  await notifier?.stopping();
  await running.stop();
  notifier?.close();
  const summary = {
    plant: plant.name,
    reason: ended.fatal === null ? ended.reason : "fatal",
    fatal: ended.fatal,
  };
  process.stdout.write(`${JSON.stringify({ ...summary, health: running.health() })}\n`);
  log.flush();
  // Non-zero after a fatal error, so that a supervisor (systemd: Restart=on-failure) starts it again.
  return ended.fatal === null ? 0 : 1;
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
