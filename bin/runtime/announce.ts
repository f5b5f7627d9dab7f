import type { RunningPlant } from "./start-plant.ts";

/**
 * Tells the person at the terminal where to look (the log has the same lines). On stderr: stdout
 * carries only the one JSON line of a run's end, for scripts.
 */
export function announce(running: Pick<RunningPlant, "statusUrl" | "inspectorUrl">): void {
  if (running.statusUrl !== undefined)
    process.stderr.write(`plantbridge: status page ${running.statusUrl}\n`);
  if (running.inspectorUrl !== undefined)
    process.stderr.write(
      `plantbridge: Stately inspector ${running.inspectorUrl} (needs internet access in the browser)\n`,
    );
}
