/**
 * The embedded server's process, found through its data directory's postmaster.pid: to stop a
 * server a killed plantbridge left running (it would hold the data directory), and to signal
 * ours when Node exits without a clean stop.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The PID of a live postgres serving `dataDir`, or undefined. Checks /proc so a reused PID is never touched. */
export function runningServerPid(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0] ?? "", 10);
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const isPostgres = cmdline.some((arg) => arg.endsWith("postgres")) && cmdline.includes(dataDir);
    return isPostgres ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Asks the server for a fast shutdown (SIGINT); errors (already gone) are ignored. */
export function signalServer(pid: number): void {
  try {
    process.kill(pid, "SIGINT");
  } catch {
    // Already gone.
  }
}

/** Signals the server and waits (bounded) until no process serves `dataDir`. True when it is gone. */
export async function stopServer(dataDir: string, pid: number, timeoutMs: number): Promise<boolean> {
  signalServer(pid);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (runningServerPid(dataDir) === undefined) return true;
    await sleep(50);
  }
  return runningServerPid(dataDir) === undefined;
}
