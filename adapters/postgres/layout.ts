/**
 * A historian table layout: how samples become rows. `narrow` (default) keeps one row per
 * sample; `wide` keeps the original tool's table with one row per storage cycle.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import type { SampleConflict, SpooledSample, TagInfo } from "../types.ts";
import type { WriterClient } from "./pg-writer.ts";

export interface LayoutWrite {
  /** Rows inserted or changed (a replayed batch gives 0). */
  rows: number;
  /** Samples not stored because their (tag, time) already holds another value. */
  conflicts: SampleConflict[];
  /** Publishes what the transaction registered (tag ids); call only after it committed. */
  afterCommit(): void;
}

export interface LayoutCreate {
  /** What was created or changed, one sentence each; empty when everything was there. */
  changes: string[];
  /** Publishes what the transaction found (tag ids, the table's shape); call only after it committed. */
  publish(): void;
}

interface LayoutCommon {
  /**
   * Creates the layout's tables if missing, adopts existing ones and registers the tags, inside
   * the caller's transaction, which holds the schema's advisory lock (safe from several processes).
   * Also what the sink runs again when it finds drift.
   */
  create(db: CommonQueryMethods, tags: readonly TagInfo[]): Promise<LayoutCreate>;
  /**
   * Slow work on existing tables that must never hold up delivery (building a missing index,
   * looking for duplicate times): runs after open, outside any transaction, on a connection of
   * its own with a long statement timeout. Logs what it finds and does; rejects on failure.
   */
  upkeep(db: CommonQueryMethods, stopped: () => boolean): Promise<void>;
}

/** The wide layout writes through slonik, inside a transaction the sink opens. */
export interface PoolLayout extends LayoutCommon {
  readonly kind: "wide";
  /**
   * Writes one batch inside the caller's transaction; idempotent on (tag, time). Throws
   * HistorianDrift when its tables are no longer the ones `create` found.
   */
  write(db: CommonQueryMethods, batch: readonly SpooledSample[]): Promise<LayoutWrite>;
}

/** A batch's work done before a writer connection is free (e.g. its COPY data), for `write`. */
export interface PreparedBatch {
  readonly batch: readonly SpooledSample[];
}

/** The narrow layout writes on the writer connection (binary COPY), one transaction of its own per batch. */
export interface WriterLayout extends LayoutCommon {
  readonly kind: "narrow";
  /**
   * What can be done for `batch` without the database (encoding it, when the cache knows every
   * tag): done while another batch still holds the writer, so the two overlap.
   */
  prepare(batch: readonly SpooledSample[]): PreparedBatch;
  /**
   * Writes the prepared batch in one transaction it opens and ends on `client` (committed when it
   * resolves, rolled back when it rejects); idempotent on (tag, time). Throws HistorianDrift
   * when its tables are no longer the ones `create` found.
   */
  write(client: WriterClient, prepared: PreparedBatch): Promise<LayoutWrite>;
}

export type HistorianLayout = PoolLayout | WriterLayout;

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

/** `timestamp without time zone` from a wall time given as "epoch ms" of that wall time read as UTC. */
export function wallMsToTimestamp(column: ReturnType<typeof sql.identifier>) {
  return sql.fragment`(timestamp 'epoch' + ${column} * interval '1 millisecond')`;
}

const exists = z.object({ present: z.boolean() });
const relation = z.object({ id: z.number().nullable() });

/** True when `schema.table` exists (checked first, so a user without CREATE rights can still start). */
export async function tableExists(db: CommonQueryMethods, schema: string, table: string): Promise<boolean> {
  return db.oneFirst(
    sql.type(exists)`SELECT to_regclass(${regclassText(schema, table)}) IS NOT NULL AS present`,
  );
}

/** The table's OID, or null when it does not exist: a table dropped and created again has another one. */
export async function tableId(db: CommonQueryMethods, schema: string, table: string): Promise<number | null> {
  return db.oneFirst(sql.type(relation)`SELECT to_regclass(${regclassText(schema, table)})::oid::int8 AS id`);
}

/** The text form to_regclass() parses; it is passed as a bound value, never spliced into SQL. */
export function regclassText(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** `"name"` with inner quotes doubled: an identifier, never a value. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The statement as PostgreSQL receives it, for a log line (DDL carries identifiers only, no values). */
export function statementText(query: { sql: string }): string {
  return query.sql.replaceAll(/\s+/g, " ").trim();
}
