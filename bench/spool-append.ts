/**
 * Spool append: samples/s appending storage cycles of the reference plant's 33 samples to the
 * node:sqlite spool (`openSpool(...).append(cycle)`, one transaction per cycle) at each
 * `synchronous` level, against a baseline at the same level: a bare node:sqlite table of the same
 * shape, one prepared INSERT per sample, one transaction per cycle — what the spool's bookkeeping
 * (checks, duplicates, bounds, per-sink counts) costs on top of SQLite itself.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { openSpool } from "../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../adapters/types.ts";
import { silentLog } from "../lib/log.ts";
import type { SpoolSynchronous } from "../schemas/plant-types.ts";
import { referenceStoredTags, storageCycle } from "./reference-samples.ts";
import { ratioOf, type SectionResult, type Variant, variantOf } from "./stats.ts";
import type { Workspace } from "./workspace.ts";

export interface SpoolAppendOptions {
  repeats: number;
  /** Cycles appended per run, per level (FULL syncs every commit: fewer keep it short). */
  cycles: Record<SpoolSynchronous, number>;
  warmUpCycles: number;
  say: (line: string) => void;
}

const levels: readonly SpoolSynchronous[] = ["OFF", "NORMAL", "FULL"];

async function removeDatabase(path: string): Promise<void> {
  await Promise.all(["", "-wal", "-shm"].map((suffix) => rm(`${path}${suffix}`, { force: true })));
}

/** Appends the cycles through the spool; returns the elapsed ms. */
function appendThroughSpool(path: string, level: SpoolSynchronous, cycles: readonly Sample[][]): number {
  const spool = openSpool({
    path,
    sinks: ["postgres"],
    maxSamples: 50_000_000,
    synchronous: level,
    log: silentLog(),
  });
  try {
    const started = performance.now();
    for (const cycle of cycles) spool.append(cycle);
    return performance.now() - started;
  } finally {
    spool.close();
  }
}

/** Appends the cycles with bare INSERTs into a table like the spool's; returns the elapsed ms. */
function appendBare(path: string, level: SpoolSynchronous, cycles: readonly Sample[][]): number {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${level}`);
    db.exec(`CREATE TABLE samples (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      tag TEXT NOT NULL, time INTEGER NOT NULL, value REAL, value_kind TEXT NOT NULL,
      quality TEXT NOT NULL, reason TEXT, UNIQUE (time, tag))`);
    const insert = db.prepare(
      "INSERT INTO samples (tag, time, value, value_kind, quality, reason) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const started = performance.now();
    for (const cycle of cycles) {
      db.exec("BEGIN IMMEDIATE");
      for (const s of cycle) {
        const kind = s.value === null ? "null" : typeof s.value;
        const value = typeof s.value === "boolean" ? Number(s.value) : s.value;
        insert.run(s.tag, s.time, value, kind, s.quality, s.reason ?? null);
      }
      db.exec("COMMIT");
    }
    return performance.now() - started;
  } finally {
    db.close();
  }
}

export async function benchSpoolAppend(
  workspace: Workspace,
  options: SpoolAppendOptions,
): Promise<SectionResult> {
  const { say } = options;
  const tags = await referenceStoredTags(workspace.dir);
  const most = Math.max(options.warmUpCycles, ...levels.map((l) => options.cycles[l]));
  const cycles = Array.from({ length: most }, (_, k) => storageCycle(tags, k));
  const perCycle = tags.infos.length;
  const methods = { spool: appendThroughSpool, bare: appendBare } as const;
  type MethodKey = keyof typeof methods;
  const repeats = new Map<string, Record<string, number>[]>();
  let file = 0;

  const runOne = async (key: MethodKey, level: SpoolSynchronous, count: number) => {
    const path = join(workspace.dir, `spool-bench-${file++}.sqlite`);
    try {
      const ms = methods[key](path, level, cycles.slice(0, count));
      return {
        "samples/s": (count * perCycle) / (ms / 1000),
        "µs/cycle": (ms * 1000) / count,
        cycles: count,
      };
    } finally {
      await removeDatabase(path);
    }
  };

  say(`spool append: warm-up (${options.warmUpCycles} cycles per level and method)`);
  for (const level of levels)
    for (const key of ["spool", "bare"] as const) await runOne(key, level, options.warmUpCycles);
  for (let r = 0; r < options.repeats; r++) {
    for (const level of levels) {
      const order: MethodKey[] = r % 2 === 0 ? ["spool", "bare"] : ["bare", "spool"];
      for (const key of order) {
        say(
          `spool append: ${key} ${level} run ${r + 1}/${options.repeats} (${options.cycles[level]} cycles)`,
        );
        const figures = await runOne(key, level, options.cycles[level]);
        const name = `${key} ${level}`;
        repeats.set(name, [...(repeats.get(name) ?? []), figures]);
      }
    }
  }

  const variants: Variant[] = [];
  const ratios = [];
  const byLevel = new Map<SpoolSynchronous, Variant>();
  for (const level of levels) {
    const spool = variantOf(
      `spool.append, synchronous ${level}`,
      "plantbridge",
      repeats.get(`spool ${level}`) ?? [],
    );
    const bare = variantOf(
      `bare node:sqlite INSERTs, synchronous ${level}`,
      "baseline",
      repeats.get(`bare ${level}`) ?? [],
    );
    variants.push(spool, bare);
    byLevel.set(level, spool);
    ratios.push(ratioOf(`${level}: spool / bare INSERTs`, spool, bare, "samples/s"));
  }
  const off = byLevel.get("OFF");
  for (const level of ["NORMAL", "FULL"] as const) {
    const v = byLevel.get(level);
    if (off && v) ratios.push(ratioOf(`spool ${level} / spool OFF`, v, off, "samples/s"));
  }
  const flat: Record<string, number> = {};
  for (const [level, v] of byLevel) {
    flat[`spool.append_samples_per_s_${level.toLowerCase()}`] = v.figures["samples/s"] ?? Number.NaN;
  }
  return {
    flat,
    id: "spool-append",
    title: `4. Spool append: storage cycles of ${perCycle} samples, node:sqlite (WAL), one transaction per cycle`,
    columns: [
      { name: "samples/s", unit: "" },
      { name: "µs/cycle", unit: "" },
      { name: "cycles", unit: "" },
    ],
    variants,
    ratios,
    goal:
      "No DESIGN figure. STACK reference: node:sqlite writes 100 k rows in one WAL transaction in ≈ 60–100 ms " +
      "(the spool commits once per storage cycle instead: 1 s in sim.yaml, 10 s on the real plant).",
    notes: [
      `Each run appends to a fresh file under var/bench/ (removed after); medians of ${options.repeats} runs; ${options.warmUpCycles} warm-up cycles per level and method.`,
      "FULL syncs the WAL to disk at every commit, so its figure depends on this machine's disk; OFF leaves syncing to the OS.",
      "The bare table has the spool's shape (UNIQUE (time, tag), AUTOINCREMENT seq); its INSERTs go one row per call, the spool's 64 rows per call.",
    ],
  };
}
