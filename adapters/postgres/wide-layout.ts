/**
 * The wide layout: the original tool's table, one row per storage cycle, a time column
 * (primary key or unique) and one double precision column per configured tag. Booleans are
 * stored as 1/0, bad quality as NULL. A row is assembled per sample time from the batch; rows of
 * the same time arriving in different batches merge
 * (`ON CONFLICT (time) DO UPDATE SET col = COALESCE(EXCLUDED.col, existing.col)`), so replays
 * are idempotent and a column that is missing or bad in one batch never erases a stored value.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { tagId, type WideColumn } from "../../schemas/plant-types.ts";
import { epochMsToTimestamptz, type HistorianLayout, numericValue, tableExists } from "./layout.ts";

export interface WideTable {
  schema: string;
  table: string;
  timeColumn: string;
  columns: readonly WideColumn[];
}

const columnRow = z.object({ name: z.string() });
const exists = z.object({ present: z.boolean() });

/** Checks the configured table once, at construction: a bad mapping never half-starts. */
function columnMap(config: WideTable): Map<string, string> {
  const byTag = new Map<string, string>();
  const names = new Set<string>();
  const fail = (why: string) =>
    new PlantbridgeError(ErrorCode.CONFIG, `historian wide table ${config.schema}.${config.table}: ${why}`, {
      keyPath: "storage.historian.columns",
    });
  if (config.columns.length === 0) throw fail("no columns configured");
  for (const c of config.columns) {
    const id = tagId(c.tag);
    if (c.column === config.timeColumn) throw fail(`column "${c.column}" is also the time column`);
    if (names.has(c.column)) throw fail(`column "${c.column}" is configured twice`);
    if (byTag.has(id)) throw fail(`tag ${id} is mapped to two columns`);
    names.add(c.column);
    byTag.set(id, c.column);
  }
  return byTag;
}

export function wideLayout(config: WideTable, log: Log): HistorianLayout {
  const { schema, table, timeColumn } = config;
  const target = sql.identifier([schema, table]);
  const time = sql.identifier([timeColumn]);
  // Configured column name → the name the table really has (an older table may have folded it to lower case).
  const byTag = columnMap(config);
  const actual = new Map([...byTag.values()].map((c) => [c, c]));
  const order = [...byTag.values()];

  async function resolveColumns(db: CommonQueryMethods): Promise<void> {
    const rows = await db.any(sql.type(columnRow)`
      SELECT column_name AS name FROM information_schema.columns
      WHERE table_schema = ${schema} AND table_name = ${table}`);
    const present = rows.map((r) => r.name);
    const find = (wanted: string): string | undefined =>
      present.includes(wanted)
        ? wanted
        : present.filter((p) => p.toLowerCase() === wanted.toLowerCase()).length === 1
          ? present.find((p) => p.toLowerCase() === wanted.toLowerCase())
          : undefined;
    const timeFound = find(timeColumn);
    if (timeFound !== timeColumn) {
      throw new PlantbridgeError(
        ErrorCode.CONFIG,
        `historian wide table ${schema}.${table} has no time column "${timeColumn}"`,
        { keyPath: "storage.historian.timeColumn" },
      );
    }
    const missing: string[] = [];
    for (const column of order) {
      const found = find(column);
      if (found === undefined) missing.push(column);
      else if (found !== column) {
        log.info(
          { table, configured: column, column: found },
          "wide table column matched without regard to case",
        );
        actual.set(column, found);
      }
    }
    if (missing.length > 0) {
      const adds = missing.map(
        (c) => sql.fragment`ADD COLUMN IF NOT EXISTS ${sql.identifier([c])} double precision`,
      );
      await db.query(sql.unsafe`ALTER TABLE ${target} ${sql.join(adds, sql.fragment`, `)}`);
      log.info({ table, added: missing }, "wide table: added missing columns");
    }
  }

  /** ON CONFLICT (time) needs a unique index on the time column alone; an older table may lack one. */
  async function ensureUniqueTime(db: CommonQueryMethods): Promise<void> {
    const qualified = `"${schema.replaceAll('"', '""')}"."${table.replaceAll('"', '""')}"`;
    const unique = await db.oneFirst(sql.type(exists)`
      SELECT EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = to_regclass(${qualified}) AND i.indisunique AND i.indnkeyatts = 1
          AND i.indpred IS NULL AND a.attname = ${timeColumn}
      ) AS present`);
    if (!unique) {
      const index = sql.identifier([`${table}_${timeColumn}_key`.slice(0, 63)]);
      await db.query(sql.unsafe`CREATE UNIQUE INDEX IF NOT EXISTS ${index} ON ${target} (${time})`);
      log.info({ table, timeColumn }, "wide table: added a unique index on the time column");
    }
  }

  return {
    kind: "wide",

    async create(db) {
      if (!(await tableExists(db, schema, table))) {
        const columns = order.map((c) => sql.fragment`${sql.identifier([c])} double precision`);
        await db.query(sql.unsafe`
          CREATE TABLE IF NOT EXISTS ${target} (
            ${time} timestamptz NOT NULL PRIMARY KEY,
            ${sql.join(columns, sql.fragment`, `)}
          )`);
      } else {
        await resolveColumns(db);
        await ensureUniqueTime(db);
      }
      return () => {};
    },

    async write(db, batch) {
      // One row per sample time; within a batch, a later sample of the same tag and time wins.
      const rowsByTime = new Map<number, Map<string, number | null>>();
      for (const s of batch) {
        const column = byTag.get(s.tag);
        if (column === undefined) {
          const dot = s.tag.indexOf(".");
          throw new PlantbridgeError(
            ErrorCode.HISTORIAN_REJECTED,
            `historian wide table ${schema}.${table} has no column for tag ${s.tag}`,
            dot > 0 ? { unit: s.tag.slice(0, dot), tag: s.tag.slice(dot + 1) } : { tag: s.tag },
          );
        }
        let row = rowsByTime.get(s.time);
        if (row === undefined) {
          row = new Map();
          rowsByTime.set(s.time, row);
        }
        row.set(column, s.quality === "good" ? numericValue(s) : null);
      }
      const present = order.filter((c) => [...rowsByTime.values()].some((row) => row.has(c)));
      if (present.length === 0) return { rows: 0, afterCommit: () => {} };
      const tuples = [...rowsByTime].map(([ms, row]) => [ms, ...present.map((c) => row.get(c) ?? null)]);
      const aliases = ["ms", ...present.map((_, i) => `v${i}`)].map((a) => sql.identifier([a]));
      const columns = present.map((c) => sql.identifier([actual.get(c) ?? c]));
      const updates = columns.map((c) => sql.fragment`${c} = COALESCE(EXCLUDED.${c}, existing.${c})`);
      const values = aliases.slice(1).map((a) => sql.fragment`u.${a}`);
      const result = await db.query(sql.unsafe`
        INSERT INTO ${target} AS existing (${time}, ${sql.join(columns, sql.fragment`, `)})
        SELECT ${epochMsToTimestamptz(sql.identifier(["u", "ms"]))}, ${sql.join(values, sql.fragment`, `)}
        FROM ${sql.unnest(tuples, ["float8", ...present.map(() => "float8")])} AS u(${sql.join(aliases, sql.fragment`, `)})
        ON CONFLICT (${time}) DO UPDATE SET ${sql.join(updates, sql.fragment`, `)}`);
      return { rows: result.rowCount, afterCommit: () => {} };
    },
  };
}
