/**
 * Crash tests of the CLI: plantbridge runs as a child process (so it can be killed with SIGKILL)
 * against the PEMEL and METH simulators of the test process, whose served logs are the truth.
 * Here: spawning and killing the child, reading the spool file it left behind, and matching the
 * historian's PEMEL records against the storage reads PEMEL served.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import type { ModbusTagConfig, PlantConfig } from "../../schemas/plant-types.ts";
import type { PemelSimulator, ServedRead } from "../../simulators/pemel/index.ts";
import { waitFor } from "./plant-harness.ts";
import { accountServedReads } from "./served-reads.ts";

const bin = fileURLToPath(new URL("../../bin/plantbridge.ts", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PlantProcess {
  readonly child: ChildProcess;
  /** Epoch ms when it was spawned. */
  readonly startedAt: number;
  readonly exited: Promise<Exit>;
  /** Set once it has exited. */
  exit: Exit | undefined;
  stdout(): string;
  stderr(): string;
}

/** Spawns `bin/plantbridge.ts ARGS` on this Node (the pinned 24), output collected. */
export function spawnPlantbridge(
  args: readonly string[],
  env: Record<string, string | undefined>,
): PlantProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const handle: PlantProcess = {
    child,
    startedAt: Date.now(),
    exit: undefined,
    exited: new Promise<Exit>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) => {
        handle.exit = { code, signal };
        resolve(handle.exit);
      });
    }),
    stdout: () => out,
    stderr: () => err,
  };
  return handle;
}

/** The storage reads PEMEL served: the status word and the 14 values in one 18-register read from 0x8061. */
export function storageReads(pemel: PemelSimulator): ServedRead[] {
  return pemel.served.reads.filter((r) => r.area === "holding" && r.address === 0x8061 && r.count === 18);
}

/** Waits until PEMEL has served `count` storage reads in all, failing early if the plant process exits. */
export async function waitForStorageReads(
  pemel: PemelSimulator,
  count: number,
  plant: PlantProcess,
): Promise<void> {
  await waitFor(
    `${count} PEMEL storage reads served`,
    () => {
      if (plant.exit)
        throw new Error(`plantbridge exited early (${JSON.stringify(plant.exit)}): ${plant.stderr()}`);
      return storageReads(pemel).length >= count;
    },
    45_000,
  );
}

/** Polls (every millisecond) until PEMEL serves one more storage read than it had at the call. */
export async function nextStorageRead(pemel: PemelSimulator, plant: PlantProcess): Promise<ServedRead> {
  const seen = storageReads(pemel).length;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reads = storageReads(pemel);
    const next = reads[seen];
    if (next) return next;
    if (plant.exit)
      throw new Error(`plantbridge exited early (${JSON.stringify(plant.exit)}): ${plant.stderr()}`);
    if (Date.now() > deadline) throw new Error("timed out waiting for the next PEMEL storage read");
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * SIGKILLs the plant process and waits until it is gone and PEMEL has seen its connection close,
 * so that no request of the dead process is still on its way to the simulator.
 */
export async function killHard(plant: PlantProcess, pemel: PemelSimulator): Promise<Exit> {
  plant.child.kill("SIGKILL");
  const exit = await plant.exited;
  await waitFor(
    "PEMEL to see the killed process's connection close",
    () => pemel.connections() === 0,
    10_000,
  );
  return exit;
}

/**
 * Watches the spool file (read-only, every millisecond) and SIGKILLs the plant process as soon as
 * the file holds an appended sample the historian sink has not acknowledged yet: the kill falls
 * between the spool append and the forwarder's ack (during or right after the historian write).
 * Returns whether that moment was caught before `timeoutMs` (if not, the process is killed anyway).
 */
export async function killWhileSpoolPending(
  plant: PlantProcess,
  spoolPath: string,
  pemel: PemelSimulator,
  timeoutMs = 15_000,
  sink = "postgres",
): Promise<{ exit: Exit; caught: boolean }> {
  const db = new DatabaseSync(spoolPath, { readOnly: true });
  let caught = false;
  try {
    const state = db.prepare(
      `SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'samples') AS last,
              (SELECT seq FROM cursors WHERE sink = ?) AS cursor`,
    );
    const read = () => {
      const row = state.get(sink) ?? {};
      return { last: Number(row.last ?? 0), cursor: Number(row.cursor ?? 0) };
    };
    const startLast = read().last;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !plant.exit) {
      const { last, cursor } = read();
      if (last > startLast && last > cursor) {
        plant.child.kill("SIGKILL");
        caught = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    db.close();
  }
  return { exit: await killHard(plant, pemel), caught };
}

export interface SpoolFileSample {
  seq: number;
  tag: string;
  time: number;
  value: number | null;
  quality: string;
}

/** What a spool file holds, read straight from SQLite (no plantbridge code involved). */
export interface SpoolFileState {
  /** Highest sequence number ever given out: the number of samples ever appended (AUTOINCREMENT). */
  lastSeq: number;
  /** The postgres sink's delivery cursor. */
  cursor: number;
  /** Samples still in the file. */
  held: number;
  /** Samples after the cursor: appended, not yet acknowledged by the historian. */
  pending: SpoolFileSample[];
  duplicates: number;
  dropped: number;
  deadLettered: number;
}

/** Reads a spool file left by a (dead or stopped) plantbridge; a missing file is an empty spool. */
export function readSpoolFile(path: string, sink = "postgres"): SpoolFileState {
  if (!existsSync(path)) {
    return { lastSeq: 0, cursor: 0, held: 0, pending: [], duplicates: 0, dropped: 0, deadLettered: 0 };
  }
  const db = new DatabaseSync(path);
  try {
    const num = (sql: string, ...params: (string | number)[]): number =>
      Number(Object.values(db.prepare(sql).get(...params) ?? {})[0] ?? 0);
    const cursor = num("SELECT seq FROM cursors WHERE sink = ?", sink);
    const meta = (key: string) => num("SELECT value FROM meta WHERE key = ?", key);
    const pending = db
      .prepare("SELECT seq, tag, time, value, quality FROM samples WHERE seq > ? ORDER BY seq")
      .all(cursor)
      .map((r) => ({
        seq: Number(r.seq),
        tag: String(r.tag),
        time: Number(r.time),
        value: r.value === null ? null : Number(r.value),
        quality: String(r.quality),
      }));
    return {
      lastSeq: num("SELECT seq FROM sqlite_sequence WHERE name = 'samples'"),
      cursor,
      held: num("SELECT count(*) FROM samples"),
      pending,
      duplicates: meta("duplicates"),
      dropped: meta("dropped"),
      deadLettered: meta("deadLettered"),
    };
  } finally {
    db.close();
  }
}

/** The PEMEL tags storage keeps, with their register definitions, in storage order. */
export function storedPemelTags(plant: PlantConfig): ModbusTagConfig[] {
  const unit = plant.units.find((u) => u.name === "PEMEL");
  if (unit?.protocol !== "modbus-tcp") throw new Error("the plant has no Modbus unit PEMEL");
  return plant.storage.tags
    .filter((ref) => ref.unit === "PEMEL")
    .map((ref) => {
      const tag = unit.tags.find((t) => t.name === ref.tag);
      if (!tag) throw new Error(`PEMEL.${ref.tag} is stored but not defined`);
      return tag;
    });
}

/** The record (tag → value) a served storage read must have become: bits of the status word, uint16 values. */
export function recordOf(read: ServedRead, tags: readonly ModbusTagConfig[]): Map<string, number> {
  const record = new Map<string, number>();
  for (const tag of tags) {
    const word = read.values[tag.address - read.address];
    if (word === undefined) throw new Error(`PEMEL.${tag.name} at ${tag.address} is outside the served read`);
    const raw = tag.type === "bit" ? (word >> (tag.bit ?? 0)) & 1 : word;
    record.set(`PEMEL.${tag.name}`, raw * tag.scale + tag.offset);
  }
  return record;
}

/** Prints the figures line the lead collects for the closing note. */
export function printFaultFigures(
  figures: { fault: string; served: number; stored: number; lost: number; duplicated: number } & Record<
    string,
    unknown
  >,
): void {
  console.log(`FAULT-FIGURES ${JSON.stringify(figures)}`);
}

/** One start of plantbridge in a crash test: when it ran and what PEMEL served meanwhile. */
export interface RunRecord {
  label: string;
  /** Epoch ms: spawned, and exited (every cycle it took lies strictly between). */
  startedAt: number;
  endedAt: number;
  /** Ended by SIGKILL (true) or a clean SIGTERM shutdown (false). */
  killed: boolean;
  /** Storage reads PEMEL served to this run (index range into `storageReads()`). */
  reads: ServedRead[];
  /** The spool file right after this run ended. */
  spoolAfter: SpoolFileState;
}

/** What one run left in the historian, held against what PEMEL served it and what its spool appended. */
export interface RunAccount {
  label: string;
  killed: boolean;
  served: number;
  /** Cycle times stored for this run (any quality). */
  cycles: number[];
  /** Cycles this run appended to the spool: the growth of the spool's last sequence number / samples per cycle. */
  appendedCycles: number;
  /** Good PEMEL records stored for this run. */
  storedGood: number;
  /** Served reads that became a stored record with exactly the served values. */
  matched: number;
  /** Stored good records that hold no read served in their window (must stay empty). */
  mismatches: string[];
  /**
   * Served reads answered after their storage cycle's deadline (a busy machine): each for a cycle
   * of this run stored bad with the deadline's reason, served after it. Lost by definition, said so.
   */
  answeredTooLate: number;
  /**
   * Served reads nothing explains: when served, the storage slot it was served in
   * (`floor(time / period) · period`), and whether that slot's cycle is in the historian at all.
   */
  unmatched: Array<{ time: number; slot: number; slotStored: boolean }>;
}

export interface StoredRow {
  tag: string;
  time: number;
  value: number | null;
  quality: number;
  reason?: string | null;
}

/**
 * Splits the historian's rows into runs by time and holds, run by run, the stored cycles against
 * the storage reads PEMEL served to that run (test/support/served-reads.ts): each good record
 * holds a read served between its cycle and the next, each other read was answered too late for a
 * cycle stored bad saying so, or is unmatched (only the read a kill interrupted may be).
 */
export function accountRuns(
  runs: readonly RunRecord[],
  rows: readonly StoredRow[],
  pemelTags: readonly ModbusTagConfig[],
  samplesPerCycle: number,
  periodMs: number,
): { accounts: RunAccount[]; outsideAnyRun: number[] } {
  const cycles = new Map<number, Map<string, StoredRow>>();
  for (const row of rows) {
    const cycle = cycles.get(row.time) ?? new Map<string, StoredRow>();
    cycles.set(row.time, cycle);
    cycle.set(row.tag, row);
  }
  const times = [...cycles.keys()].sort((a, b) => a - b);
  const outsideAnyRun = times.filter((t) => !runs.some((r) => t > r.startedAt && t < r.endedAt));
  const probe = pemelTags[0] ? `PEMEL.${pemelTags[0].name}` : "";
  let lastSeq = 0;
  const accounts = runs.map((run): RunAccount => {
    const runCycles = times.filter((t) => t > run.startedAt && t < run.endedAt);
    const good = runCycles.filter((t) => cycles.get(t)?.get(probe)?.quality === 0);
    const appendedCycles = (run.spoolAfter.lastSeq - lastSeq) / samplesPerCycle;
    lastSeq = run.spoolAfter.lastSeq;
    const reads = [...run.reads].sort((a, b) => a.time - b.time);
    const account = accountServedReads(
      runCycles.map((t) => [t, cycles.get(t) ?? new Map<string, StoredRow>()] as const),
      reads,
      { expected: (read) => recordOf(read, pemelTags) },
    );
    return {
      label: run.label,
      killed: run.killed,
      served: reads.length,
      cycles: runCycles,
      appendedCycles,
      storedGood: good.length,
      matched: account.paired.length,
      mismatches: account.unexplainedRecords,
      answeredTooLate: account.answeredTooLate.length,
      unmatched: account.unexplainedReads.map((read) => {
        const slot = Math.floor(read.time / periodMs) * periodMs;
        return { time: read.time, slot, slotStored: cycles.has(slot) };
      }),
    };
  });
  return { accounts, outsideAnyRun };
}
