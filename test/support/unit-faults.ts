/**
 * Helpers for the unit-fault tests (test/integration/plant/pemel-*, meth-*, control-*): faster
 * periods patched into the plant of config/sim.yaml, a log that keeps its lines, waits that line
 * a fault up with the storage cycle, the reference transform, and the stored data cut into
 * cycles and checked against what the simulators served. Figures go out as FAULT-FIGURES lines.
 */
import { DatabaseSync } from "node:sqlite";
import pino from "pino";
import type { RunningPlant } from "../../bin/runtime/start-plant.ts";
import { loadCurve } from "../../calibration/curve.ts";
import { createTransform } from "../../calibration/transform.ts";
import type { Log } from "../../lib/log.ts";
import type { PlantConfig, ReconnectConfig, TagRef, UnitConfig } from "../../schemas/plant-types.ts";
import { tagId } from "../../schemas/plant-types.ts";
import type { PemelSimulator } from "../../simulators/pemel/index.ts";
import type { ServedRead, ServedWrite } from "../../simulators/pemel/served-log.ts";
import type { StoredSample } from "./plant-harness.ts";

export interface UnitTimings {
  timeoutMs: number;
  reconnect: ReconnectConfig;
  /** OPC UA only. */
  keepAliveMs?: number;
}

export interface FastPlantOptions {
  storageMs: number;
  controlMs: number;
  failSafeMs: number;
  pemel: UnitTimings;
  meth: UnitTimings;
  /** Overrides the set point tag's writable maximum (to make the transform exceed it). */
  setpointMax?: number;
  /**
   * Storage polls the OPC UA unit's stored tags (one Read per cycle, counted by the METH
   * simulator) instead of taking the values the unit pushed (`mode: subscribe`, the default).
   */
  pollStoredOpcuaTags?: boolean;
}

/** The plant of config/sim.yaml with the test's periods, timeouts and backoff. */
export function fastPlant(options: FastPlantOptions): (plant: PlantConfig) => PlantConfig {
  return (plant) => ({
    ...plant,
    units: plant.units.map((unit): UnitConfig => {
      if (unit.protocol === "modbus-tcp") {
        const tags =
          options.setpointMax === undefined
            ? unit.tags
            : unit.tags.map((t) =>
                t.writable === undefined
                  ? t
                  : { ...t, writable: { ...t.writable, max: options.setpointMax ?? 0 } },
              );
        return { ...unit, tags, timeoutMs: options.pemel.timeoutMs, reconnect: options.pemel.reconnect };
      }
      const stored = new Set(plant.storage.tags.filter((t) => t.unit === unit.name).map((t) => t.tag));
      const tags = options.pollStoredOpcuaTags
        ? unit.tags.map((t) => (stored.has(t.name) ? { ...t, mode: "poll" as const } : t))
        : unit.tags;
      return {
        ...unit,
        tags,
        timeoutMs: options.meth.timeoutMs,
        keepAliveMs: options.meth.keepAliveMs ?? unit.keepAliveMs,
        reconnect: options.meth.reconnect,
      };
    }),
    control: plant.control.map((loop) => ({
      ...loop,
      periodMs: options.controlMs,
      staleAfterMs: 3 * options.controlMs,
      failSafe: { ...loop.failSafe, afterMs: options.failSafeMs },
    })),
    storage: { ...plant.storage, periodMs: options.storageMs },
  });
}

// ---------------------------------------------------------------- logs

export interface LogLine {
  level: number;
  msg: string;
  loop?: string;
  decision?: string;
  unit?: string;
  [key: string]: unknown;
}

export interface CapturedLog {
  log: Log;
  readonly lines: readonly LogLine[];
  /** A position in the log; `since(mark)` gives the lines written after it. */
  mark(): number;
  since(mark: number): LogLine[];
}

export const logLevel = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A pino log at debug level that keeps every line (parsed) in memory. */
export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  const log = pino(
    { level: "debug" },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { log, lines, mark: () => lines.length, since: (mark) => lines.slice(mark) };
}

/** Decision lines of one loop (info/warn = the kind changed, debug = a new value of the same kind). */
export function decisionLines(lines: readonly LogLine[], kind?: string): LogLine[] {
  return lines.filter((l) => l.decision !== undefined && (kind === undefined || l.decision === kind));
}

// ---------------------------------------------------------------- waiting on the plant

async function poll(
  what: string,
  condition: () => boolean,
  timeoutMs: number,
  everyMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Resolves right after storage has read a cycle: the next storage read is about a period away,
 * so a fault injected now cannot catch a storage read on the wire (none is served and lost).
 */
export async function afterStorageRead(running: RunningPlant, timeoutMs = 10_000): Promise<void> {
  const cycles = running.health().storage.cycles;
  await poll("the next storage cycle", () => running.health().storage.cycles > cycles, timeoutMs, 5);
}

/** Waits until `count` more evaluations of the plant's (only) control loop have run. */
export async function controlEvaluations(
  running: RunningPlant,
  count: number,
  timeoutMs = 20_000,
): Promise<void> {
  const start = loopHealth(running).evaluations;
  await poll(
    `${count} control evaluations`,
    () => loopHealth(running).evaluations >= start + count,
    timeoutMs,
    20,
  );
}

export function loopHealth(running: RunningPlant) {
  const loop = Object.values(running.health().loops)[0];
  if (loop === undefined) throw new Error("the plant has no control loop");
  return loop;
}

export function unitHealth(running: RunningPlant, unit: string) {
  const health = running.health().units[unit];
  if (health === undefined) throw new Error(`the plant has no unit ${unit}`);
  return health;
}

// ---------------------------------------------------------------- control reference

/** The loop's transform as the reference (calibration/): demand → set point. */
export async function referenceSetpoint(plant: PlantConfig): Promise<(demand: number) => number> {
  const loop = plant.control[0];
  if (loop === undefined) throw new Error("the plant has no control loop");
  const curve = loop.transform.curve ? await loadCurve(loop.transform.curve.file) : undefined;
  const transform = createTransform(loop.transform, curve);
  return (demand) => {
    const result = transform(demand);
    if (!result.ok) throw result.error;
    return result.value;
  };
}

/**
 * Written values with runs of the same value collapsed, and how many writes the runs held beyond
 * their first: control writes a decision again after PEMEL reconnects or after a failed write.
 */
export function collapseRepeats(values: readonly number[]): { values: number[]; repeats: number } {
  const collapsed = values.filter((v, i) => i === 0 || v !== values[i - 1]);
  return { values: collapsed, repeats: values.length - collapsed.length };
}

/** Set point writes PEMEL served at or after `since` (simulator clock = Date.now). */
export function writesSince(pemel: PemelSimulator, since: number): ServedWrite[] {
  return pemel.served.writes.filter((w) => w.time >= since);
}

// ---------------------------------------------------------------- stored data

/** Storage's PEMEL read: the status word and the 14 values, one 18-register request. */
export function storageReads(pemel: PemelSimulator): ServedRead[] {
  return pemel.served.reads.filter((r) => r.address === 0x8061 && r.count === 18);
}

export type CycleQuality = "good" | "bad" | "mixed" | "absent";

export interface StoredCycle {
  time: number;
  samples: Map<string, StoredSample>;
  /** Quality of one unit's samples in this cycle: all good, all bad, or mixed (a defect). */
  quality(unit: string): CycleQuality;
  /** The reasons of the unit's bad samples. */
  reasons(unit: string): string[];
}

/** The stored samples cut into cycles, in time order. */
export function storedCycles(samples: readonly StoredSample[], tags: readonly TagRef[]): StoredCycle[] {
  const byTime = new Map<number, Map<string, StoredSample>>();
  for (const s of samples) {
    const cycle = byTime.get(s.time) ?? new Map<string, StoredSample>();
    cycle.set(s.tag, s);
    byTime.set(s.time, cycle);
  }
  const unitTags = (unit: string) => tags.filter((t) => t.unit === unit).map(tagId);
  return [...byTime.entries()]
    .sort(([a], [b]) => a - b)
    .map(([time, cycle]) => ({
      time,
      samples: cycle,
      quality(unit) {
        const own = unitTags(unit).map((id) => cycle.get(id));
        if (own.every((s) => s === undefined)) return "absent";
        if (own.every((s) => s?.quality === 0)) return "good";
        if (own.every((s) => s !== undefined && s.quality !== 0)) return "bad";
        return "mixed";
      },
      reasons(unit) {
        return unitTags(unit)
          .map((id) => cycle.get(id))
          .filter((s) => s !== undefined && s.quality !== 0)
          .map((s) => s?.reason ?? "(no reason)");
      },
    }));
}

/**
 * Each served storage read with the stored cycle it belongs to: the last cycle at or before the
 * read. A cycle's read ends before the next cycle starts (cycles never overlap, and the next slot
 * is never before the end of the read), so the reads of a cycle are served before the next one.
 */
export function readsByCycle(
  cycles: readonly StoredCycle[],
  reads: readonly ServedRead[],
): { byCycle: Map<number, ServedRead[]>; beforeFirstCycle: ServedRead[] } {
  const byCycle = new Map<number, ServedRead[]>(cycles.map((c) => [c.time, []]));
  const beforeFirstCycle: ServedRead[] = [];
  let k = -1;
  for (const read of reads) {
    while (k + 1 < cycles.length && (cycles[k + 1]?.time ?? Number.POSITIVE_INFINITY) <= read.time) k++;
    const cycle = cycles[k];
    if (cycle === undefined) beforeFirstCycle.push(read);
    else byCycle.get(cycle.time)?.push(read);
  }
  return { byCycle, beforeFirstCycle };
}

/** Rows that share (tag, time) with an earlier row: impossible with the historian's key, counted anyway. */
export function duplicateRows(samples: readonly StoredSample[]): number {
  const seen = new Set<string>();
  let duplicates = 0;
  for (const s of samples) {
    const key = `${s.tag}\u0000${s.time}`;
    if (seen.has(key)) duplicates++;
    else seen.add(key);
  }
  return duplicates;
}

/** Grid slots between the first and the last stored cycle that hold no cycle. */
export function missingSlots(cycles: readonly StoredCycle[], periodMs: number): number {
  const first = cycles[0];
  const last = cycles.at(-1);
  if (first === undefined || last === undefined) return 0;
  return (last.time - first.time) / periodMs + 1 - cycles.length;
}

/** Slots of the storage grid (whole multiples of the period) in [from, to). */
export function gridSlots(from: number, to: number, periodMs: number): number {
  if (!(to > from)) return 0;
  return Math.ceil(to / periodMs) - Math.ceil(from / periodMs);
}

/** What the spool was given: its last sequence number (never reused) and the appends it ignored as duplicates. */
export function spoolTotals(path: string): { appended: number; duplicates: number } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const last = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'samples'").get();
    const duplicates = db.prepare("SELECT value FROM meta WHERE key = 'duplicates'").get();
    return { appended: Number(last?.seq ?? 0), duplicates: Number(duplicates?.value ?? 0) };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- figures

export interface FaultFigures {
  fault: string;
  served: number;
  stored: number;
  lost: number;
  duplicated: number;
  [extra: string]: unknown;
}

/** One line per fault on stdout, collected for the closing note of issue 3. */
export function printFigures(figures: FaultFigures): void {
  console.log(`FAULT-FIGURES ${JSON.stringify(figures)}`);
}
