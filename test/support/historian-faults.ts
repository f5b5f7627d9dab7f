/**
 * What the historian fault tests (outage, rejected rows, full spool, shutdown flush) check
 * beyond the plant harness: the PEMEL reads storage was served (held against the stored records
 * by served-reads.ts), the spool file read from outside the plant, the order in which the
 * historian received its rows, a log the test can read, and the FAULT-FIGURES line.
 */
import { DatabaseSync } from "node:sqlite";
import { Writable } from "node:stream";
import pino from "pino";
import { sql } from "slonik";
import { z } from "zod";
import type { Log } from "../../lib/log.ts";
import type { PemelSimulator, ServedRead } from "../../simulators/pemel/index.ts";
import { testDatabaseUrl, testPool } from "./pg-schema.ts";
import type { StoredSample } from "./plant-harness.ts";

/** Samples per storage cycle of config/sim.yaml: 3 METH values, 16 status bits, 14 PEMEL values. */
export const samplesPerCycle = 33;

/** The 14 PEMEL process values, in register order from 0x8065. */
export const pemelValueTags = [
  "el_power_act",
  "el_current_act",
  "el_h2_pressure_act",
  "el_conductance_act",
  "el_temp_in_act",
  "el_propventil",
  "el_calch2flow_act",
  "el_calch2volume_sum",
  "el_1_temp_out_act",
  "el_2_temp_out_act",
  "el_3_temp_out_act",
  "el_4_temp_out_act",
  "el_5_temp_out_act",
  "el_h2_cooling_temp_act",
] as const;

/** The 16 status bits of 0x8061, bit 0 first, as config/sim.yaml names them. */
export const pemelStatusBits = [
  "error",
  "modeoff",
  "modemanual",
  "modeautomatic",
  "safety",
  "main_fan",
  "fan",
  "outer_cooling_fan",
  "outer_cooling_pump",
  "h2_cooling",
  "h2_cooling_temperature_reached",
  "valve",
  "pump1",
  "pump2",
  "pump3",
  "empty",
] as const;

/**
 * Storage's reads as PEMEL served them: storage reads the status word and the 14 values in one
 * 18-register request from 0x8061 (the 3-register gap is bridged); the control loop reads only
 * the status word. The served log keeps 100 000 entries, far more than any test here makes.
 */
export function pemelStorageReads(pemel: PemelSimulator): ServedRead[] {
  return pemel.served.reads.filter((r) => r.address === 0x8061 && r.count === 18);
}

export type Cycle = Map<string, StoredSample>;

/** A cycle whose PEMEL read succeeded (its values have good quality). */
export function pemelGood(cycle: Cycle): boolean {
  return cycle.get("PEMEL.el_power_act")?.quality === 0;
}

/**
 * Slots of the storage schedule with no cycle between the first and the last time given. The
 * storage machine skips a slot only when a cycle overran its period (counted in `overruns`), so
 * outside of a known hole (dropped cycles, a restart) this is at most the overruns.
 */
export function missingSlots(times: readonly number[], periodMs: number): number {
  let missing = 0;
  for (let i = 1; i < times.length; i++) {
    missing += ((times[i] as number) - (times[i - 1] as number)) / periodMs - 1;
  }
  return missing;
}

/** Cycle times that are not exactly `periodMs` after the one before, as "a→b". */
export function scheduleGaps(times: readonly number[], periodMs: number): string[] {
  const gaps: string[] = [];
  for (let i = 1; i < times.length; i++) {
    const a = times[i - 1] as number;
    const b = times[i] as number;
    if (b - a !== periodMs) gaps.push(`${a}→${b}`);
  }
  return gaps;
}

export interface SpoolFile {
  /** Samples the spool ever inserted: AUTOINCREMENT's high-water mark (seq is never reused). */
  lastSeq: number;
  /** The sink's delivery cursor. */
  cursor: number;
  /** Samples after the cursor, in seq order. */
  undelivered: { seq: number; tag: string; time: number }[];
  dropped: number;
  deadLettered: number;
  duplicates: number;
}

/**
 * Reads the spool file from outside the plant, read-only (WAL lets a reader in while the plant
 * writes): what a person would see with sqlite3.
 */
export function readSpoolFile(path: string, sink = "postgres"): SpoolFile {
  const db = new DatabaseSync(path, { readOnly: true });
  // One read transaction: a consistent snapshot even while the plant appends.
  db.exec("BEGIN");
  try {
    const meta = (key: string) =>
      Number(db.prepare("SELECT value FROM meta WHERE key = ?").get(key)?.value ?? 0);
    const cursor = Number(db.prepare("SELECT seq FROM cursors WHERE sink = ?").get(sink)?.seq ?? 0);
    const lastSeq = Number(
      db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'samples'").get()?.seq ?? 0,
    );
    const undelivered = db
      .prepare("SELECT seq, tag, time FROM samples WHERE seq > ? ORDER BY seq")
      .all(cursor)
      .map((r) => ({ seq: Number(r.seq), tag: String(r.tag), time: Number(r.time) }));
    return {
      lastSeq,
      cursor,
      undelivered,
      dropped: meta("dropped"),
      deadLettered: meta("deadLettered"),
      duplicates: meta("duplicates"),
    };
  } finally {
    db.exec("COMMIT");
    db.close();
  }
}

/** Positions where seq order and time order disagree (a later seq with an earlier time). */
export function outOfTimeOrder(rows: readonly { seq: number; time: number }[]): number {
  let bad = 0;
  for (let i = 1; i < rows.length; i++) if ((rows[i]?.time ?? 0) < (rows[i - 1]?.time ?? 0)) bad++;
  return bad;
}

const arrival = z.object({
  time: z.number(),
  firstTx: z.number(),
  lastTx: z.number(),
  rows: z.number(),
  keys: z.number(),
});

export interface Arrival {
  /** Stored rows, and distinct (tag, time) among them (equal: the primary key allows no twins). */
  rows: number;
  keys: number;
  /**
   * Cycles holding a row committed by an earlier transaction than a row of the cycle before
   * them: the historian received them out of order. `xmin` is the inserting transaction's id,
   * and the forwarder commits its batches one after another.
   */
  outOfOrder: number;
}

/** How the narrow `samples` table received its rows: in time order, none twice. */
export async function historianArrival(schema: string, url: string = testDatabaseUrl): Promise<Arrival> {
  const pool = await testPool(url);
  try {
    const perCycle = await pool.any(sql.type(arrival)`
      SELECT (extract(epoch FROM time) * 1000)::float8 AS time,
             min(xmin::text::bigint)::float8 AS "firstTx",
             max(xmin::text::bigint)::float8 AS "lastTx",
             count(*)::int AS rows,
             count(DISTINCT tag_id)::int AS keys
      FROM ${sql.identifier([schema, "samples"])}
      GROUP BY time ORDER BY time`);
    let outOfOrder = 0;
    let rows = 0;
    let keys = 0;
    let previousLastTx = Number.NEGATIVE_INFINITY;
    for (const c of perCycle) {
      rows += c.rows;
      keys += c.keys;
      if (c.firstTx < previousLastTx) outOfOrder++;
      previousLastTx = Math.max(previousLastTx, c.lastTx);
    }
    return { rows, keys, outOfOrder };
  } finally {
    await pool.end();
  }
}

export interface CapturedLog {
  log: Log;
  /** Every JSON line logged so far, parsed. */
  lines(): Record<string, unknown>[];
}

/** A pino logger writing into memory, so a test can count what the plant logged. */
export function captureLog(level = "info"): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  let rest = "";
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      rest += chunk.toString();
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const part of parts)
        if (part.trim() !== "") lines.push(JSON.parse(part) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, stream), lines: () => lines };
}

export interface FaultFigures {
  fault: string;
  /** PEMEL storage reads the simulator answered. */
  served: number;
  /** Good PEMEL records in the historian. */
  stored: number;
  lost: number;
  duplicated: number;
  [extra: string]: number | string;
}

/** The one line per fault test the lead collects for the closing note. */
export function printFaultFigures(figures: FaultFigures): void {
  console.log(`FAULT-FIGURES ${JSON.stringify(figures)}`);
}
