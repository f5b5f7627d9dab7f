/**
 * CPU time of PostgreSQL's backends serving a bench's connections, read from /proc (the database
 * runs on this machine in the bench's setups): the server's side of a method's cost, which the
 * bench process's own CPU time does not show, and which another process's load changes far less
 * than wall time. The backends are found by their application_name, unique to the bench's run.
 * Where /proc or the backends cannot be read (a remote database), the figures are NaN.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";

const pidRow = z.object({ pid: z.number() });

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const n = Number(out.stdout?.trim());
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** User + system CPU ms of one process, or NaN. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** Sums the CPU ms of the backends whose application_name is `name`. */
export async function backendCpuMs(pool: DatabasePool, name: string): Promise<number> {
  const pids = await pool.anyFirst(
    sql.type(pidRow)`SELECT pid FROM pg_stat_activity WHERE application_name = ${name}`,
  );
  if (pids.length === 0) return Number.NaN;
  return pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
}

/** The URL with `application_name` set (it wins over the client's own setting). */
export function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
}
