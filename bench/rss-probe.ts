/**
 * Preloaded into the plant process the `rss` stage measures (`node --import ./bench/rss-probe.ts
 * bin/plantbridge.ts run …`): it records every module the process loads (Node's module hooks see
 * `import` and `require` alike) and sends, over the IPC channel the bench opened, the process's
 * own `process.memoryUsage()` every RSS_PROBE_MS (default 250 ms) and the packages loaded so far.
 * Without an IPC channel it does nothing. Bench only: the product never loads it.
 */
import { readFileSync } from "node:fs";
import { registerHooks } from "node:module";

export interface ProbeReport {
  type: "memory";
  /** ms since the probe started. */
  at: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** CPU time of this process so far (user + system, µs). */
  cpuUs: number;
  /** The kernel's peak RSS of this process so far (VmHWM of /proc/self/status); NaN elsewhere. */
  rssHighWaterMark: number;
  /** node_modules packages loaded so far (`node-opcua`, `@statelyai/inspect`, …), sorted; only when that list changed. */
  packages?: string[];
  /** Modules loaded so far (files of the repository and of node_modules). */
  modules: number;
}

/** `…/node_modules/@scope/name/…` → `@scope/name`; the last node_modules in the path counts. */
export function packageOf(url: string): string | undefined {
  const at = url.lastIndexOf("/node_modules/");
  if (at < 0) return undefined;
  const parts = url.slice(at + "/node_modules/".length).split("/");
  const first = parts[0];
  if (first === undefined || first === "") return undefined;
  return first.startsWith("@") ? `${first}/${parts[1] ?? ""}` : first;
}

/** VmHWM in bytes, NaN where /proc is not there. */
function rssHighWaterMark(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

if (typeof process.send === "function") {
  const packages = new Set<string>();
  let modules = 0;
  registerHooks({
    load(url, context, nextLoad) {
      modules += 1;
      const name = packageOf(url);
      if (name !== undefined) packages.add(name);
      return nextLoad(url, context);
    },
  });
  const started = performance.now();
  const everyMs = Number(process.env.RSS_PROBE_MS ?? 250);
  let packagesSent = -1;
  const report = (): void => {
    const m = process.memoryUsage();
    const cpu = process.cpuUsage();
    const message: ProbeReport = {
      type: "memory",
      at: Math.round(performance.now() - started),
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      cpuUs: cpu.user + cpu.system,
      rssHighWaterMark: rssHighWaterMark(),
      ...(packages.size !== packagesSent ? { packages: [...packages].sort() } : {}),
      modules,
    };
    packagesSent = packages.size;
    if (process.connected) process.send?.(message);
  };
  setInterval(report, everyMs).unref();
  // The bench disconnects when it has what it needs; the probe never keeps the plant alive.
  process.channel?.unref();
}
