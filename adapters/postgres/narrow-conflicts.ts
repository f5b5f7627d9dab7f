/**
 * The narrow layout's slow path, taken when the batch's direct COPY met a row already stored at
 * some (tag_id, time) (SQLSTATE 23505: a replay after a crash, or the wall clock stepped back).
 *
 * The batch goes by binary COPY into a temporary staging table of the writer's session
 * (`pg_temp.plantbridge_staging`, `ON COMMIT DELETE ROWS`: empty again at every commit, and a
 * rollback takes its rows too), then `INSERT … SELECT … ON CONFLICT (tag_id, time) DO NOTHING`
 * in batch order. When that stored every row there is nothing to check; otherwise the staged rows
 * are compared with what is stored (same transaction): a row with the same value and quality is a
 * replay (a no-op); a row with another value or quality is a conflict — the stored row stays, the
 * sample comes back to the caller.
 */
import type { SampleConflict, SpooledSample } from "../types.ts";
import { narrowConflictReason } from "./conflict-reason.ts";
import { encodeSamples } from "./copy-binary.ts";
import type { WriterClient } from "./pg-writer.ts";

/** The staging table: the writer's session's own, never another session's. */
export const stagingTable = "pg_temp.plantbridge_staging";

const createStaging = `
  CREATE TEMP TABLE IF NOT EXISTS plantbridge_staging (
    time timestamptz NOT NULL,
    tag_id integer NOT NULL,
    value double precision,
    quality smallint NOT NULL,
    reason text,
    i integer NOT NULL
  ) ON COMMIT DELETE ROWS`;

export interface StagedWrite {
  /** Rows inserted (a replayed batch gives 0). */
  rows: number;
  conflicts: SampleConflict[];
}

/**
 * Stages and inserts `batch` (`tagIds[i]` the tag id of `batch[i]`) inside the caller's
 * transaction on `client`; `samples` is the quoted, schema-qualified samples table.
 */
export async function writeStaged(
  client: WriterClient,
  samples: string,
  batch: readonly SpooledSample[],
  tagIds: Int32Array,
): Promise<StagedWrite> {
  await client.query(createStaging);
  await client.copyIn(
    `COPY ${stagingTable} (time, tag_id, value, quality, reason, i) FROM STDIN (FORMAT binary)`,
    encodeSamples(batch, tagIds, true),
  );
  const inserted = await client.query(`
    INSERT INTO ${samples} (time, tag_id, value, quality, reason)
    SELECT time, tag_id, value, quality, reason FROM ${stagingTable} ORDER BY i
    ON CONFLICT (tag_id, time) DO NOTHING`);
  const stored = inserted.rowCount ?? 0;
  if (stored === batch.length) return { rows: stored, conflicts: [] };
  // One primary-key lookup per staged row (LIMIT 1 keeps the planner from turning the lookups into
  // a hash join over the whole samples table: the staging table has no statistics, and the
  // historian may hold years of rows).
  const differing = await client.query(`
    SELECT st.i, s.value, s.quality::int AS quality, s.reason
    FROM ${stagingTable} st
    CROSS JOIN LATERAL (
      SELECT value, quality, reason FROM ${samples} h
      WHERE h.tag_id = st.tag_id AND h.time = st.time
      LIMIT 1
    ) s
    WHERE (s.value, s.quality) IS DISTINCT FROM (st.value, st.quality)
    ORDER BY st.i`);
  const conflicts: SampleConflict[] = [];
  for (const row of differing.rows) {
    const sample = batch[Number(row.i)];
    if (sample === undefined) continue;
    const stored = {
      value: row.value === null ? null : Number(row.value),
      quality: Number(row.quality) === 0 ? "good" : "bad",
      reason: row.reason === null ? null : String(row.reason),
    } as const;
    conflicts.push({ sample, reason: narrowConflictReason(sample, stored) });
  }
  return { rows: stored, conflicts };
}
