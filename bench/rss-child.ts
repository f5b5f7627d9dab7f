/**
 * Runs one process for the `rss` stage as a child of the bench, with bench/rss-probe.ts preloaded,
 * and collects what the probe reports over IPC every 250 ms: RSS and heap of that process only
 * (the simulators stay in the bench's process), the kernel's high-water mark of its RSS, and the
 * node_modules packages it loaded.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { ProbeReport } from "./rss-probe.ts";
import { repoRoot } from "./workspace.ts";

export interface ChildMemory {
  /** Largest RSS and heapUsed among the reports (bytes). */
  peakRss: number;
  peakHeapUsed: number;
  peakHeapTotal: number;
  /** The kernel's peak RSS of the process (VmHWM), as last reported; NaN where not on Linux. */
  rssHighWaterMark: number;
  /** RSS and heapUsed of the last report (bytes): what the process holds once settled. */
  lastRss: number;
  lastHeapUsed: number;
  reports: number;
  packages: string[];
  modules: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface ChildRun {
  /** Arguments after `node --import bench/rss-probe.ts`. */
  args: readonly string[];
  env?: Record<string, string>;
  /** Stop it with SIGTERM after this long, if it has not ended by itself (ms). */
  killAfterMs: number;
}

const probe = join(repoRoot, "bench", "rss-probe.ts");

export function runMeasuredChild(run: ChildRun): Promise<ChildMemory> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", probe, ...run.args], {
      cwd: repoRoot,
      env: { ...process.env, ...run.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const memory: ChildMemory = {
      peakRss: 0,
      peakHeapUsed: 0,
      peakHeapTotal: 0,
      rssHighWaterMark: Number.NaN,
      lastRss: Number.NaN,
      lastHeapUsed: Number.NaN,
      reports: 0,
      packages: [],
      modules: 0,
      exitCode: null,
      stdout: "",
      stderr: "",
    };
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      memory.stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      // Only the end matters (the reason of a failure); a chatty child must not grow the bench.
      memory.stderr = (memory.stderr + d).slice(-20_000);
    });
    child.on("message", (m: ProbeReport) => {
      if (m.type !== "memory") return;
      memory.reports += 1;
      memory.peakRss = Math.max(memory.peakRss, m.rss);
      memory.peakHeapUsed = Math.max(memory.peakHeapUsed, m.heapUsed);
      memory.peakHeapTotal = Math.max(memory.peakHeapTotal, m.heapTotal);
      // JSON over IPC turns NaN into null.
      memory.rssHighWaterMark = m.rssHighWaterMark ?? Number.NaN;
      memory.lastRss = m.rss;
      memory.lastHeapUsed = m.heapUsed;
      if (m.packages !== undefined) memory.packages = m.packages;
      memory.modules = m.modules;
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), run.killAfterMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      memory.exitCode = code;
      resolve(memory);
    });
  });
}
