/**
 * The narrow layout (default): `tags(id, name, unit, engineering_unit, description)` and
 * `samples(time, tag_id, value, quality, reason)` with primary key (tag_id, time) and a BRIN
 * index on time (narrow-tables.ts). A batch is one
 * `INSERT … SELECT FROM unnest(…) ON CONFLICT (tag_id, time) DO NOTHING`. When it stored every
 * row there is nothing to check; otherwise the batch is compared with what is stored
 * (narrow-conflicts.ts): replays are no-ops, other values come back as conflicts.
 * Tag ids are cached by name; a sample of a tag the cache does not know registers it in the same
 * transaction. Before each batch the layout checks that `tags` is still the table it read the ids
 * from and that `samples` exists: if not, it throws HistorianDrift and the sink recreates them.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import type { Log } from "../../lib/log.ts";
import type { SpooledSample, TagInfo } from "../types.ts";
import { HistorianDrift } from "./drift.ts";
import { epochMsToTimestamptz, type HistorianLayout, numericValue, regclassText } from "./layout.ts";
import { type NarrowRow, narrowConflicts } from "./narrow-conflicts.ts";
import { createNarrowTables, samplesTimeIndex } from "./narrow-tables.ts";
import { keepTimeIndex } from "./time-index.ts";

export interface NarrowOptions {
  schema: string;
  /** False: never add an index to an existing samples table. */
  alterTable: boolean;
  log: Log;
}

const tagRow = z.object({ id: z.number(), name: z.string() });
const tableIds = z.object({ tags: z.number().nullable(), samples: z.number().nullable() });

export function narrowLayout(options: NarrowOptions): HistorianLayout {
  const { schema, alterTable, log } = options;
  const tags = sql.identifier([schema, "tags"]);
  const samples = sql.identifier([schema, "samples"]);
  let ids = new Map<string, number>();
  /** The OID of the tags table the cached ids come from. */
  let tagsTable: number | null = null;

  async function lookUp(db: CommonQueryMethods, names: readonly string[]): Promise<Map<string, number>> {
    const rows = await db.any(
      sql.type(tagRow)`SELECT id, name FROM ${tags} WHERE name = ANY(${sql.array([...names], "text")})`,
    );
    return new Map(rows.map((r) => [r.name, r.id]));
  }

  /** Inserts the tags that do not exist yet (never touching those that do) and returns all their ids. */
  async function register(db: CommonQueryMethods, names: readonly string[]): Promise<Map<string, number>> {
    const rows = names.map((name) => {
      const dot = name.indexOf(".");
      return [name, dot > 0 ? name.slice(0, dot) : null];
    });
    await db.query(sql.unsafe`
      INSERT INTO ${tags} (name, unit)
      SELECT * FROM ${sql.unnest(rows, ["text", "text"])}
      ON CONFLICT (name) DO NOTHING`);
    return lookUp(db, names);
  }

  /** The plant file is the authority for tag metadata; rows that already match are left alone. */
  async function upsert(db: CommonQueryMethods, tagInfos: readonly TagInfo[]): Promise<Map<string, number>> {
    const unique = new Map(tagInfos.map((t) => [t.id, t]));
    if (unique.size === 0) return new Map();
    const rows = [...unique.values()].map((t) => [
      t.id,
      t.unit,
      t.engineeringUnit ?? null,
      t.description ?? null,
    ]);
    await db.query(sql.unsafe`
      INSERT INTO ${tags} AS t (name, unit, engineering_unit, description)
      SELECT * FROM ${sql.unnest(rows, ["text", "text", "text", "text"])}
      ON CONFLICT (name) DO UPDATE
        SET unit = EXCLUDED.unit, engineering_unit = EXCLUDED.engineering_unit, description = EXCLUDED.description
        WHERE (t.unit, t.engineering_unit, t.description)
          IS DISTINCT FROM (EXCLUDED.unit, EXCLUDED.engineering_unit, EXCLUDED.description)`);
    return lookUp(db, [...unique.keys()]);
  }

  async function checkTables(db: CommonQueryMethods): Promise<void> {
    const found = await db.one(sql.type(tableIds)`
      SELECT to_regclass(${regclassText(schema, "tags")})::oid::int8 AS tags,
             to_regclass(${regclassText(schema, "samples")})::oid::int8 AS samples`);
    if (found.samples === null) throw new HistorianDrift(`table ${schema}.samples is missing`);
    if (found.tags === null) throw new HistorianDrift(`table ${schema}.tags is missing`);
    if (found.tags !== tagsTable) {
      throw new HistorianDrift(
        `table ${schema}.tags was dropped and created again: the cached tag ids are stale`,
      );
    }
  }

  return {
    kind: "narrow",

    async create(db, tagInfos) {
      const changes = await createNarrowTables(db, schema);
      const found = await upsert(db, tagInfos);
      const table = await db.oneFirst(
        sql.type(
          z.object({ id: z.number() }),
        )`SELECT to_regclass(${regclassText(schema, "tags")})::oid::int8 AS id`,
      );
      const before = ids;
      const changed = [...found].filter(([name, id]) => before.has(name) && before.get(name) !== id).length;
      if (changed > 0) changes.push(`re-read the tag ids: ${changed} tag(s) have new ids`);
      return {
        changes,
        publish: () => {
          // Tags registered on the fly are looked up again when a sample of them comes.
          ids = new Map(found);
          tagsTable = table;
        },
      };
    },

    async write(db, batch: readonly SpooledSample[]) {
      await checkTables(db);
      const unknown = [...new Set(batch.map((s) => s.tag).filter((tag) => !ids.has(tag)))];
      const fresh = unknown.length > 0 ? await register(db, unknown) : new Map<string, number>();
      const rows: NarrowRow[] = batch.map((s) => [
        s.time,
        ids.get(s.tag) ?? fresh.get(s.tag) ?? null,
        numericValue(s),
        s.quality === "good" ? 0 : 1,
        s.reason ?? null,
      ]);
      const ms = sql.identifier(["u", "ms"]);
      const result = await db.query(sql.unsafe`
        INSERT INTO ${samples} (time, tag_id, value, quality, reason)
        SELECT ${epochMsToTimestamptz(ms)}, u.tag_id, u.value, u.quality, u.reason
        FROM ${sql.unnest(rows, ["float8", "int4", "float8", "int2", "text"])} AS u(ms, tag_id, value, quality, reason)
        ON CONFLICT (tag_id, time) DO NOTHING`);
      // Fast path: every row was new. Otherwise tell replays from conflicts.
      const conflicts =
        result.rowCount === batch.length ? [] : await narrowConflicts(db, samples, rows, batch);
      return {
        rows: result.rowCount,
        conflicts,
        afterCommit: () => {
          for (const [name, id] of fresh) ids.set(name, id);
        },
      };
    },

    async upkeep(db, stopped) {
      const target = { schema, table: "samples", column: "time", indexName: samplesTimeIndex, alterTable };
      await keepTimeIndex(db, { ...target, method: "brin" }, log, stopped);
    },
  };
}
