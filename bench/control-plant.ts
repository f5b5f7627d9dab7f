/**
 * The plant of the control stage as its own process, as a real gateway runs apart from its PLCs:
 * `node <plant flags> bin/plantbridge.ts run <file> --http 127.0.0.1:0` started as a child of the
 * bench (with bench/rss-probe.ts preloaded, which reports its CPU time), the simulators staying in
 * the bench's process. The plant learns the simulators' ports and its historian schema from the
 * environment (as config/sim.yaml reads them); the bench waits for both units connected through
 * the child's GET /health, and fails loudly (CHECK FAILED) when the child ends before it is stopped
 * or does not end cleanly.
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseDocument } from "yaml";
import { plantNodeFlags } from "../bin/node-flags.ts";
import { type ChildMemory, type MeasuredChild, startMeasuredChild, summaryOf } from "./rss-child.ts";
import { repoRoot } from "./workspace.ts";

export interface ControlPlant {
  /** CPU time of the plant process so far (µs), as of the probe's last report (every 100 ms). */
  cpuUs(): number;
  /** Throws CHECK FAILED when the plant process has ended on its own. */
  assertRunning(): void;
  /** SIGTERM and wait; throws CHECK FAILED unless it ended cleanly having stored what it sampled. */
  stop(): Promise<void>;
  /** Ends the process whatever its state (for the error path); never throws. */
  kill(): Promise<void>;
}

const startDeadlineMs = 60_000;
const stopGraceMs = 15_000;
const simYaml = join(repoRoot, "config", "sim.yaml");

const tail = (text: string) => text.trim().split("\n").slice(-5).join(" | ");

function failure(child: MeasuredChild, what: string): Error {
  const m: ChildMemory = child.memory;
  return new Error(
    `CHECK FAILED control latency: the plant process ${what} (exit ${m.exitCode}, signal ${m.signal}): ${tail(m.stderr)}`,
  );
}

/**
 * config/sim.yaml with the original tool's rule, as a plant file in `dir`: the loop with
 * `onChange: false` and a 1 s period, the demand tag read (polled) each period. The curve file is
 * made absolute, since the file no longer sits in config/.
 */
export async function writePollingPlant(dir: string, loopName: string, demandTag: string): Promise<string> {
  const doc = parseDocument(await readFile(simYaml, "utf8"));
  const loop = ["control", loopName];
  if (!doc.hasIn([...loop, "onChange"]))
    throw new Error(`${simYaml}: no control loop ${loopName} with onChange`);
  doc.setIn([...loop, "onChange"], false);
  doc.setIn([...loop, "period"], "1s");
  const curve = [...loop, "transform", "curve", "file"];
  doc.setIn(curve, resolve(dirname(simYaml), String(doc.getIn(curve))));
  const [unit, tag] = demandTag.split(".");
  const mode = ["units", unit ?? "", "tags", tag ?? "", "mode"];
  if (!doc.hasIn(mode)) throw new Error(`${simYaml}: the demand tag ${demandTag} has no mode`);
  doc.setIn(mode, "poll");
  const file = join(dir, "control-polling.yaml");
  await writeFile(file, doc.toString());
  return file;
}

async function health(url: string): Promise<{ units?: Record<string, { state?: string }> } | undefined> {
  try {
    const response = await fetch(new URL("/health", url), { signal: AbortSignal.timeout(2_000) });
    return (await response.json()) as { units?: Record<string, { state?: string }> };
  } catch {
    return undefined;
  }
}

async function waitConnected(child: MeasuredChild, label: string): Promise<void> {
  const end = Date.now() + startDeadlineMs;
  for (;;) {
    if (child.exited) throw failure(child, `of ${label} ended during start-up`);
    const url = /plantbridge: status page (\S+)/.exec(child.memory.stderr)?.[1];
    const units = url === undefined ? undefined : (await health(url))?.units;
    const states = Object.values(units ?? {});
    if (states.length > 0 && states.every((u) => u.state === "connected")) return;
    if (Date.now() > end) {
      throw new Error(
        `control latency: ${label} not connected after ${startDeadlineMs} ms (${JSON.stringify(units ?? null)}): ${tail(child.memory.stderr)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the plant process and resolves once both its units are connected. */
export async function startControlPlant(run: {
  label: string;
  file: string;
  varDir: string;
  env: Record<string, string>;
}): Promise<ControlPlant> {
  const child = startMeasuredChild({
    args: [
      ...plantNodeFlags,
      join("bin", "plantbridge.ts"),
      "run",
      run.file,
      "--var",
      run.varDir,
      "--http",
      "127.0.0.1:0",
      "--log-level",
      "warn",
    ],
    env: { ...run.env, RSS_PROBE_MS: "100" },
    // A safety net only: the stage stops it itself.
    killAfterMs: 10 * 60_000,
  });
  // A spawn error rejects `closed`; `exited` then tells the waits.
  child.closed.catch(() => undefined);
  const kill = async () => {
    await child.stop(stopGraceMs).catch(() => undefined);
  };
  try {
    await waitConnected(child, run.label);
  } catch (e) {
    await kill();
    throw e;
  }
  const assertRunning = () => {
    if (child.exited) throw failure(child, `of ${run.label} ended while the bench was using it`);
  };
  return {
    cpuUs: () => child.memory.cpuUs,
    assertRunning,
    async stop() {
      assertRunning();
      const ended = await child.stop(stopGraceMs);
      const summary = summaryOf(ended.stdout);
      const storage = summary.health?.storage;
      const delivered = Object.values(summary.health?.sinks ?? {}).reduce(
        (n, s) => n + (s.delivered ?? 0),
        0,
      );
      if (ended.exitCode !== 0) throw failure(child, `of ${run.label} did not stop cleanly`);
      if (storage?.cycles === undefined || storage.cycles < 1 || delivered !== storage.samples) {
        throw failure(
          child,
          `of ${run.label} did not store what it sampled: ${storage?.cycles ?? 0} cycles, ${storage?.samples ?? 0} samples, ${delivered} stored`,
        );
      }
    },
    kill,
  };
}
