/**
 * Runs one process as a child of the bench, with bench/rss-probe.ts preloaded, and collects what
 * the probe reports over IPC every 250 ms: RSS, heap and CPU time of that process only (the
 * simulators stay in the bench's process), the kernel's high-water mark of its RSS, and the
 * node_modules packages it loaded. The `rss` stage runs a plant to its end (`runMeasuredChild`);
 * the `control` stage starts one, talks to it while it runs and stops it (`startMeasuredChild`).
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
  /** CPU time of the process (user + system, µs) as of the last report; NaN before the first. */
  cpuUs: number;
  reports: number;
  packages: string[];
  modules: number;
  exitCode: number | null;
  /** The signal that ended the process, if one did. */
  signal: NodeJS.Signals | null;
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

/** A child that runs: what it reported so far, whether it ended, and how to stop it. */
export interface MeasuredChild {
  /** Live: updated as the child reports and writes. */
  readonly memory: ChildMemory;
  readonly exited: boolean;
  /** Settles when the child has closed its output and ended; rejects if it could not be started. */
  readonly closed: Promise<ChildMemory>;
  /** SIGTERM, then SIGKILL if it has not ended after `graceMs`; resolves when it has ended. */
  stop(graceMs: number): Promise<ChildMemory>;
}

/** The run summary `plantbridge run` prints on stdout (only what the stage reads). */
export interface RunSummary {
  reason?: string;
  health?: {
    storage?: { cycles?: number; samples?: number; badSamples?: number; overruns?: number };
    sinks?: Record<string, { delivered?: number }>;
  };
}

/** The last line of `plantbridge run`'s stdout, parsed; empty when there is none. */
export function summaryOf(stdout: string): RunSummary {
  const last = stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as RunSummary;
  } catch {
    return {};
  }
}

const probe = join(repoRoot, "bench", "rss-probe.ts");

export function startMeasuredChild(run: ChildRun): MeasuredChild {
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
    cpuUs: Number.NaN,
    reports: 0,
    packages: [],
    modules: 0,
    exitCode: null,
    signal: null,
    stdout: "",
    stderr: "",
  };
  let exited = false;
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
    memory.cpuUs = m.cpuUs;
    if (m.packages !== undefined) memory.packages = m.packages;
    memory.modules = m.modules;
  });
  const timer = setTimeout(() => child.kill("SIGTERM"), run.killAfterMs);
  const closed = new Promise<ChildMemory>((resolve, reject) => {
    child.on("error", (e) => {
      clearTimeout(timer);
      exited = true;
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      exited = true;
      memory.exitCode = code;
      memory.signal = signal;
      resolve(memory);
    });
  });
  return {
    memory,
    get exited() {
      return exited;
    },
    closed,
    async stop(graceMs) {
      if (!exited) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await closed;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

export function runMeasuredChild(run: ChildRun): Promise<ChildMemory> {
  return startMeasuredChild(run).closed;
}
