/** Helpers for the historian tests: configs, sample batches, and reading back what was stored. */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import type { SpooledSample, TagInfo } from "../../../adapters/types.ts";
import type { HistorianConfig } from "../../../schemas/plant-types.ts";

export const t0 = Date.UTC(2025, 5, 1, 12, 0, 0);

export function narrowConfig(schema: string): HistorianConfig {
  return { schema, layout: "narrow", alterTable: true };
}

let seq = 0;
/** Spooled samples with fresh sequence numbers. */
export function spooled(samples: Omit<SpooledSample, "seq">[]): SpooledSample[] {
  return samples.map((s) => ({ ...s, seq: ++seq }));
}

export const referenceTags: TagInfo[] = [
  {
    id: "METH.h2_demand",
    unit: "METH",
    engineeringUnit: "Nl/min",
    description: "H2 demand computed by METH",
  },
  { id: "PEMEL.current", unit: "PEMEL", engineeringUnit: "A" },
  { id: "PEMEL.cooling_ready", unit: "PEMEL", description: "status bit 10" },
];

/** One storage cycle at `time`: a number, a boolean and a failed read. */
export function cycleAt(time: number, demand: number, ready: boolean): SpooledSample[] {
  return spooled([
    { tag: "METH.h2_demand", time, value: demand, quality: "good" },
    { tag: "PEMEL.cooling_ready", time, value: ready, quality: "good" },
    {
      tag: "PEMEL.current",
      time,
      value: null,
      quality: "bad",
      reason: "Modbus exception 2 (illegal data address)",
    },
  ]);
}

const narrowRow = z.object({
  name: z.string(),
  time: z.number(),
  value: z.number().nullable(),
  quality: z.number(),
  reason: z.string().nullable(),
});
export type NarrowRow = z.infer<typeof narrowRow>;

export async function narrowRows(pool: DatabasePool, schema: string): Promise<readonly NarrowRow[]> {
  return pool.any(sql.type(narrowRow)`
    SELECT t.name, s.time, s.value, s.quality, s.reason
    FROM ${sql.identifier([schema, "samples"])} s JOIN ${sql.identifier([schema, "tags"])} t ON t.id = s.tag_id
    ORDER BY s.time, t.name`);
}

const count = z.object({ n: z.number() });
export async function countRows(pool: DatabasePool, schema: string, table: string): Promise<number> {
  return pool.oneFirst(sql.type(count)`SELECT count(*) AS n FROM ${sql.identifier([schema, table])}`);
}

const varTestDir = fileURLToPath(new URL("../../../var/test/", import.meta.url));

/** A fresh folder var/test/<area>-<random> and a function that removes it. */
export function makeTestDir(area: string): { dir: string; remove(): void } {
  const dir = join(varTestDir, `${area}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The code of a rejection, or "resolved". */
export async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return "resolved";
  } catch (e) {
    return typeof e === "object" && e !== null && "code" in e ? String(e.code) : `uncoded: ${String(e)}`;
  }
}

/**
 * Polls `condition` until it holds, with a generous deadline (background work, busy machines: a
 * CREATE INDEX CONCURRENTLY waits for the transactions of every other test running on the database).
 */
export async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 90_000;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const indexRow = z.object({ name: z.string(), definition: z.string(), valid: z.boolean() });

/** The table's indexes with their definitions, by name. */
export async function indexesOf(pool: DatabasePool, schema: string, table: string) {
  return pool.any(sql.type(indexRow)`
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid AS valid
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = to_regclass(${`"${schema}"."${table}"`}) ORDER BY c.relname`);
}
