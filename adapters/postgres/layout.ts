/**
 * A historian table layout: how samples become rows. `narrow` (default) keeps one row per
 * sample; `wide` keeps the original tool's table with one row per storage cycle.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import type { SpooledSample, TagInfo } from "../types.ts";

export interface LayoutWrite {
  /** Rows inserted or changed (a replayed batch gives 0 in the narrow layout). */
  rows: number;
  /** Publishes what the transaction registered (tag ids); call only after it committed. */
  afterCommit(): void;
}

export interface HistorianLayout {
  readonly kind: "narrow" | "wide";
  /**
   * Creates the layout's tables if missing and registers the tags, inside the caller's
   * transaction, which holds the schema's advisory lock (safe from several processes).
   * Returns what to publish after the commit.
   */
  create(db: CommonQueryMethods, tags: readonly TagInfo[]): Promise<() => void>;
  /** Writes one batch inside the caller's transaction; idempotent on (tag, time). */
  write(db: CommonQueryMethods, batch: readonly SpooledSample[]): Promise<LayoutWrite>;
}

/** A sample's value as double precision: booleans 1/0, null stays null. */
export function numericValue(sample: SpooledSample): number | null {
  if (sample.value === null) return null;
  if (typeof sample.value === "boolean") return sample.value ? 1 : 0;
  return sample.value;
}

/** `timestamptz` from epoch ms, exact to the microsecond: bound as float8, no Date involved. */
export function epochMsToTimestamptz(column: ReturnType<typeof sql.identifier>) {
  return sql.fragment`(timestamptz 'epoch' + ${column} * interval '1 millisecond')`;
}

const exists = z.object({ present: z.boolean() });

/** True when `schema.table` exists (checked first, so a user without CREATE rights can still start). */
export async function tableExists(db: CommonQueryMethods, schema: string, table: string): Promise<boolean> {
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  return db.oneFirst(sql.type(exists)`SELECT to_regclass(${qualified}) IS NOT NULL AS present`);
}

/** The text form to_regclass() parses; it is passed as a bound value, never spliced into SQL. */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
