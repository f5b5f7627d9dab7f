/**
 * The wide layout: the original tool's table, one row per storage cycle, a time column and one
 * double precision column per configured tag. Booleans are stored as 1/0, bad quality as NULL.
 *
 * A batch is written under `LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE` (readers go on; other
 * writers wait for this short transaction), one time at a time: the rows stored at the batch's
 * times are read, and wide-merge.ts decides what is inserted, which NULL cells are filled and
 * which samples conflict with a value already stored — a stored value is never overwritten. So
 * the table needs no unique index on time (the original's often holds duplicate times from past
 * DST changes) and the write never relies on ON CONFLICT.
 *
 * A `timestamp without time zone` time column gets the plant's local wall time
 * (storage.historian.timeZone), as the original tool wrote it; a `timestamptz` column the instant.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { tagId, type WideColumn } from "../../schemas/plant-types.ts";
import { HistorianDrift } from "./drift.ts";
import { epochMsToTimestamptz, type PoolLayout, tableId, wallMsToTimestamp } from "./layout.ts";
import { formatWall, wallClockIn } from "./local-time.ts";
import { keepTimeIndex } from "./time-index.ts";
import { reportDuplicateTimes } from "./wide-duplicates.ts";
import { assembleWide, mergeWide, type StoredCells, type WideNaming } from "./wide-merge.ts";
import { openWideTable, type WideShape } from "./wide-table.ts";

export interface WideOptions {
  schema: string;
  table: string;
  timeColumn: string;
  columns: readonly WideColumn[];
  /** False: never change the table (no added columns, no index). */
  alterTable: boolean;
  /** IANA zone of the plant's wall time, for a `timestamp without time zone` column. */
  timeZone: string;
  log: Log;
}

/** Checks the configured mapping once, at construction: a bad mapping never half-starts. */
function columnMap(options: WideOptions): Map<string, string> {
  const byTag = new Map<string, string>();
  const names = new Set<string>();
  const fail = (why: string) =>
    new PlantbridgeError(
      ErrorCode.CONFIG,
      `historian wide table ${options.schema}.${options.table}: ${why}`,
      {
        keyPath: "storage.historian.columns",
      },
    );
  if (options.columns.length === 0) throw fail("no columns configured");
  for (const c of options.columns) {
    const id = tagId(c.tag);
    if (c.column === options.timeColumn) throw fail(`column "${c.column}" is also the time column`);
    if (names.has(c.column)) throw fail(`column "${c.column}" is configured twice`);
    if (byTag.has(id)) throw fail(`tag ${id} is mapped to two columns`);
    names.add(c.column);
    byTag.set(id, c.column);
  }
  return byTag;
}

export function wideLayout(options: WideOptions): PoolLayout {
  const { schema, table, timeColumn, log } = options;
  const target = sql.identifier([schema, table]);
  const where = `${schema}.${table}`;
  const byTag = columnMap(options);
  const order = [...byTag.values()];
  const wallClock = wallClockIn(options.timeZone);
  let shape: WideShape | undefined;
  /** The duplicate times are reported once per run. */
  let duplicatesReported = false;

  function naming(found: WideShape): WideNaming {
    const local = found.timeType === "timestamp";
    return {
      table: where,
      columnOf: (tag) => byTag.get(tag),
      keyOf: local ? wallClock : (ms) => ms,
      showKey: (key) =>
        local ? `${formatWall(key)} (local time, ${options.timeZone})` : new Date(key).toISOString(),
    };
  }

  function timeOf(found: WideShape, key: ReturnType<typeof sql.identifier>) {
    return found.timeType === "timestamp" ? wallMsToTimestamp(key) : epochMsToTimestamptz(key);
  }

  async function readStored(db: CommonQueryMethods, found: WideShape, keys: number[], columns: string[]) {
    const stored: StoredCells = new Map();
    if (keys.length === 0 || columns.length === 0) return stored;
    const aliases = columns.map((_, i) => `v${i}`);
    const row = z.object({
      key: z.number(),
      ...Object.fromEntries(aliases.map((a) => [a, z.number().nullable()])),
    });
    const picks = columns.map(
      (c, i) => sql.fragment`t.${sql.identifier([found.actual.get(c) ?? c])} AS ${sql.identifier([`v${i}`])}`,
    );
    const rows = await db.any(sql.type(row)`
      SELECT u.key, ${sql.join(picks, sql.fragment`, `)}
      FROM ${sql.unnest(
        keys.map((k) => [k]),
        ["float8"],
      )} AS u(key)
      JOIN ${target} t ON t.${sql.identifier([timeColumn])} = ${timeOf(found, sql.identifier(["u", "key"]))}`);
    for (const r of rows) {
      const values = r as Record<string, number | null>;
      let cells = stored.get(r.key);
      if (cells === undefined) {
        cells = new Map();
        stored.set(r.key, cells);
      }
      for (const [i, c] of columns.entries()) {
        const list = cells.get(c) ?? [];
        list.push(values[`v${i}`] ?? null);
        cells.set(c, list);
      }
    }
    return stored;
  }

  /** Inserts rows (`insert`) or fills NULL cells of stored rows (`fill`); returns the rows touched. */
  async function apply(
    db: CommonQueryMethods,
    found: WideShape,
    rows: Map<number, ReadonlyMap<string, number | null>>,
    how: "insert" | "fill",
  ): Promise<number> {
    if (rows.size === 0) return 0;
    const columns = order.filter((c) => [...rows.values()].some((r) => r.has(c)));
    const tuples = [...rows].map(([key, cells]) => [key, ...columns.map((c) => cells.get(c) ?? null)]);
    const aliases = ["key", ...columns.map((_, i) => `v${i}`)].map((a) => sql.identifier([a]));
    const from = sql.fragment`${sql.unnest(tuples, ["float8", ...columns.map(() => "float8")])} AS u(${sql.join(aliases, sql.fragment`, `)})`;
    const names = columns.map((c) => sql.identifier([found.actual.get(c) ?? c]));
    const values = columns.map((_, i) => sql.identifier(["u", `v${i}`]));
    const fills = columns.map((c, i) => {
      const name = sql.identifier([found.actual.get(c) ?? c]);
      return sql.fragment`${name} = COALESCE(t.${name}, ${sql.identifier(["u", `v${i}`])})`;
    });
    const time = sql.identifier([timeColumn]);
    const key = sql.identifier(["u", "key"]);
    const result =
      how === "insert"
        ? await db.query(sql.unsafe`
            INSERT INTO ${target} (${time}, ${sql.join(names, sql.fragment`, `)})
            SELECT ${timeOf(found, key)}, ${sql.join(values, sql.fragment`, `)} FROM ${from}`)
        : await db.query(sql.unsafe`
            UPDATE ${target} AS t
            SET ${sql.join(fills, sql.fragment`, `)}
            FROM ${from} WHERE t.${time} = ${timeOf(found, key)}`);
    return result.rowCount;
  }

  return {
    kind: "wide",

    async create(db) {
      const opened = await openWideTable(
        db,
        { schema, table, timeColumn, columns: order, alterTable: options.alterTable },
        log,
      );
      return {
        changes: opened.changes,
        publish: () => {
          shape = opened.shape;
        },
      };
    },

    async write(db, batch) {
      const found = shape;
      if (found === undefined) throw new HistorianDrift(`table ${where} was never opened`);
      const id = await tableId(db, schema, table);
      if (id === null) throw new HistorianDrift(`table ${where} is missing`);
      if (id !== found.id) throw new HistorianDrift(`table ${where} was dropped and created again`);
      await db.query(sql.unsafe`LOCK TABLE ${target} IN SHARE ROW EXCLUSIVE MODE`);
      const names = naming(found);
      const assembled = assembleWide(batch, names);
      const columns = order.filter((c) => [...assembled.rows.values()].some((r) => r.has(c)));
      const stored = await readStored(db, found, [...assembled.rows.keys()], columns);
      const merge = mergeWide(assembled.rows, stored, names);
      const inserted = await apply(db, found, merge.inserts, "insert");
      const filled = await apply(db, found, merge.fills, "fill");
      return {
        rows: inserted + filled,
        conflicts: [...assembled.conflicts, ...merge.conflicts],
        afterCommit: () => {},
      };
    },

    async upkeep(db, stopped) {
      if (!duplicatesReported)
        duplicatesReported = await reportDuplicateTimes(db, { schema, table, timeColumn }, log);
      if (stopped()) return;
      const indexName = `${table}_${timeColumn}_idx`.slice(0, 63);
      const target = { schema, table, column: timeColumn, indexName, alterTable: options.alterTable };
      await keepTimeIndex(db, { ...target, method: "btree" }, log, stopped);
    },
  };
}
