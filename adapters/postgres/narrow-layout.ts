/**
 * The narrow layout (default): `tags(id, name, unit, engineering_unit, description)` and
 * `samples(time, tag_id, value, quality, reason)` with primary key (tag_id, time) and a BRIN
 * index on time (narrow-tables.ts).
 *
 * A batch is one transaction on the writer connection (pg-writer.ts): the table check, the
 * registration of tags the cache does not know, and one binary `COPY samples FROM STDIN` of the
 * whole batch — the fastest way PostgreSQL takes rows. COPY has no ON CONFLICT: when a row of the
 * batch is already stored (SQLSTATE 23505: a replay after a crash, or times met again after the
 * wall clock stepped back), the transaction is rolled back and the batch is written again through
 * a staging table with `ON CONFLICT DO NOTHING` (narrow-conflicts.ts): replays are no-ops, other
 * values come back as conflicts. The common case (every row new) pays for no conflict check; while
 * batches keep meeting stored rows, they go to the staging table at once.
 *
 * Tag ids are cached by name. Before each batch the layout checks that `tags` is still the table
 * it read the ids from and that `samples` exists: if not, it throws HistorianDrift and the sink
 * recreates them.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import type { Log } from "../../lib/log.ts";
import type { SpooledSample, TagInfo } from "../types.ts";
import { sqlStateIn } from "./classify-error.ts";
import { encodeSamples } from "./copy-binary.ts";
import { HistorianDrift } from "./drift.ts";
import { type PreparedBatch, regclassText, type WriterLayout } from "./layout.ts";
import { writeStaged } from "./narrow-conflicts.ts";
import { createNarrowTables, samplesTimeIndex } from "./narrow-tables.ts";
import type { WriterClient } from "./pg-writer.ts";
import { keepTimeIndex } from "./time-index.ts";

export interface NarrowOptions {
  schema: string;
  /** False: never add an index to an existing samples table. */
  alterTable: boolean;
  log: Log;
}

const tagRow = z.object({ id: z.number(), name: z.string() });

/** A batch with its COPY data encoded before a writer was free (when every tag was known). */
interface NarrowPrepared extends PreparedBatch {
  /** The ids' generation the data was encoded with. */
  generation?: number;
  data?: Buffer | undefined;
}

/** SQLSTATE unique_violation: the direct COPY met a (tag_id, time) already stored. */
const uniqueViolation = "23505";

/** Runs `work` in one transaction on `client`: committed when it resolves, rolled back when it throws. */
async function inTransaction<T>(client: WriterClient, work: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  let result: T;
  try {
    result = await work();
  } catch (e) {
    // A ROLLBACK that fails too (connection gone) must not hide the first error.
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
  await client.query("COMMIT");
  return result;
}

export function narrowLayout(options: NarrowOptions): WriterLayout {
  const { schema, alterTable, log } = options;
  const tags = sql.identifier([schema, "tags"]);
  const tagsText = regclassText(schema, "tags");
  const samplesText = regclassText(schema, "samples");
  const copySamples = `COPY ${samplesText} (time, tag_id, value, quality, reason) FROM STDIN (FORMAT binary)`;
  let ids = new Map<string, number>();
  /** The OID of the tags table the cached ids come from. */
  let tagsTable: number | null = null;
  /** The last batch met rows already stored (a replay or conflicts): the next one likely does too. */
  let metStoredRows = false;
  /** Changes whenever `ids` is read anew (after drift): data encoded with older ids is not used. */
  let idsGeneration = 0;

  async function lookUp(db: CommonQueryMethods, names: readonly string[]): Promise<Map<string, number>> {
    const rows = await db.any(
      sql.type(tagRow)`SELECT id, name FROM ${tags} WHERE name = ANY(${sql.array([...names], "text")})`,
    );
    return new Map(rows.map((r) => [r.name, r.id]));
  }

  /** Inserts the tags that do not exist yet (never touching those that do) and returns all their ids. */
  async function register(client: WriterClient, names: readonly string[]): Promise<Map<string, number>> {
    const units = names.map((name) => {
      const dot = name.indexOf(".");
      return dot > 0 ? name.slice(0, dot) : null;
    });
    await client.query(
      `INSERT INTO ${tagsText} (name, unit) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (name) DO NOTHING`,
      [names, units],
    );
    const found = await client.query(`SELECT id, name FROM ${tagsText} WHERE name = ANY($1::text[])`, [
      names,
    ]);
    return new Map(found.rows.map((r) => [String(r.name), Number(r.id)]));
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

  async function checkTables(client: WriterClient): Promise<void> {
    const found = await client.query(
      "SELECT to_regclass($1)::oid::int8 AS tags, to_regclass($2)::oid::int8 AS samples",
      [tagsText, samplesText],
    );
    const row = found.rows[0];
    if (row?.samples === null || row?.samples === undefined)
      throw new HistorianDrift(`table ${schema}.samples is missing`);
    if (row.tags === null || row.tags === undefined)
      throw new HistorianDrift(`table ${schema}.tags is missing`);
    if (Number(row.tags) !== tagsTable) {
      throw new HistorianDrift(
        `table ${schema}.tags was dropped and created again: the cached tag ids are stale`,
      );
    }
  }

  /** Each sample's tag id, tags the cache does not know registered first (in the same transaction). */
  async function tagIdsOf(client: WriterClient, batch: readonly SpooledSample[]) {
    const tagIds = new Int32Array(batch.length);
    const unknown = new Set<string>();
    for (let i = 0; i < batch.length; i++) {
      const tag = (batch[i] as SpooledSample).tag;
      const id = ids.get(tag);
      if (id === undefined) unknown.add(tag);
      else tagIds[i] = id;
    }
    if (unknown.size === 0) return { tagIds, fresh: new Map<string, number>() };
    const fresh = await register(client, [...unknown]);
    for (let i = 0; i < batch.length; i++) {
      const tag = (batch[i] as SpooledSample).tag;
      if (!unknown.has(tag)) continue;
      const id = fresh.get(tag);
      if (id === undefined)
        throw new HistorianDrift(`tag ${tag} is not in ${schema}.tags after registering it`);
      tagIds[i] = id;
    }
    return { tagIds, fresh };
  }

  /** The COPY data of `batch` when the cache knows every tag (nothing to register), else undefined. */
  function encodeKnown(batch: readonly SpooledSample[]): Buffer | undefined {
    const tagIds = new Int32Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const id = ids.get((batch[i] as SpooledSample).tag);
      if (id === undefined) return undefined;
      tagIds[i] = id;
    }
    return encodeSamples(batch, tagIds);
  }

  /** The common case: every row is new, one binary COPY. Undefined when a row was already stored. */
  async function copyDirect(client: WriterClient, prepared: NarrowPrepared) {
    const { batch } = prepared;
    try {
      return await inTransaction(client, async () => {
        await checkTables(client);
        // Encoded beforehand with the ids the table check just vouched for, or now.
        if (prepared.data !== undefined && prepared.generation === idsGeneration) {
          return { rows: await client.copyIn(copySamples, prepared.data), fresh: new Map<string, number>() };
        }
        const { tagIds, fresh } = await tagIdsOf(client, batch);
        const stored = await client.copyIn(copySamples, encodeSamples(batch, tagIds));
        return { rows: stored, fresh };
      });
    } catch (e) {
      if (sqlStateIn(e) === uniqueViolation) return undefined;
      throw e;
    }
  }

  /** A row was already stored: the staging path tells replays from conflicts. */
  function copyStaged(client: WriterClient, batch: readonly SpooledSample[]) {
    return inTransaction(client, async () => {
      await checkTables(client);
      const { tagIds, fresh } = await tagIdsOf(client, batch);
      const staged = await writeStaged(client, samplesText, batch, tagIds);
      return { ...staged, fresh };
    });
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
          idsGeneration++;
        },
      };
    },

    prepare(batch): NarrowPrepared {
      return { batch, generation: idsGeneration, data: metStoredRows ? undefined : encodeKnown(batch) };
    },

    async write(client, prepared) {
      const { batch } = prepared;
      // Replays come in runs (after a crash, after the clock stepped back): while the batch before
      // met stored rows, go through the staging table at once instead of a COPY bound to fail.
      const direct = metStoredRows ? undefined : await copyDirect(client, prepared);
      const done = direct === undefined ? await copyStaged(client, batch) : { ...direct, conflicts: [] };
      metStoredRows = direct === undefined && done.rows < batch.length;
      return {
        rows: done.rows,
        conflicts: done.conflicts,
        afterCommit: () => {
          for (const [name, id] of done.fresh) ids.set(name, id);
        },
      };
    },

    async upkeep(db, stopped) {
      const target = { schema, table: "samples", column: "time", indexName: samplesTimeIndex, alterTable };
      await keepTimeIndex(db, { ...target, method: "brin" }, log, stopped);
    },
  };
}
