import { resolve } from "node:path";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { CommonOptions } from "../cli-options.ts";
import { createPlantLog } from "../runtime/plant-log.ts";
import { waitForStop } from "../runtime/signals.ts";
import { startPlant } from "../runtime/start-plant.ts";

/** `plantbridge run FILE`: runs a plant until SIGINT/SIGTERM (or --duration), then shuts down cleanly. */
export async function runCommand(options: CommonOptions): Promise<number> {
  const file = options.positionals[0];
  if (file === undefined) {
    process.stderr.write("plantbridge run: name the plant file, e.g. plantbridge run config/plant.yaml\n");
    return 2;
  }
  const plant = await loadPlantFile(file, options.varDir ? { varDir: resolve(options.varDir) } : {});
  const log = createPlantLog(plant.varDir, options.logLevel);
  const running = await startPlant(plant, { log, inspectPort: options.inspectPort });
  const reason = await Promise.race([
    waitForStop(log, options.durationS),
    running.stopped.then(() => "stopped" as const),
  ]);
  await running.stop();
  process.stdout.write(`${JSON.stringify({ plant: plant.name, reason, health: running.health() })}\n`);
  log.flush();
  return 0;
}
