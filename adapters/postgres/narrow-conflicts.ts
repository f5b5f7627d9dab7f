/**
 * The narrow layout's slow path: an insert that stored fewer rows than the batch holds met rows
 * already stored at some (tag_id, time). Compared with what is stored (same transaction), a row
 * with the same value and quality is a replay (a no-op); a row with another value or quality is
 * a conflict — the stored row stays, the sample comes back to the caller.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import type { SampleConflict, SpooledSample } from "../types.ts";
import { narrowConflictReason } from "./conflict-reason.ts";
import { epochMsToTimestamptz } from "./layout.ts";

/** One batch row as bound for the insert: [ms, tag_id, value, quality, reason]. */
export type NarrowRow = [number, number | null, number | null, number, string | null];

const storedRow = z.object({
  i: z.number(),
  value: z.number().nullable(),
  quality: z.number(),
  reason: z.string().nullable(),
});

export async function narrowConflicts(
  db: CommonQueryMethods,
  samples: ReturnType<typeof sql.identifier>,
  rows: readonly NarrowRow[],
  batch: readonly SpooledSample[],
): Promise<SampleConflict[]> {
  const keyed = rows.map(([ms, tagId, value, quality], i) => [i, ms, tagId, value, quality]);
  const ms = sql.identifier(["u", "ms"]);
  const differing = await db.any(sql.type(storedRow)`
    SELECT u.i, s.value, s.quality::int AS quality, s.reason
    FROM ${sql.unnest(keyed, ["int4", "float8", "int4", "float8", "int2"])} AS u(i, ms, tag_id, value, quality)
    JOIN ${samples} s ON s.tag_id = u.tag_id AND s.time = ${epochMsToTimestamptz(ms)}
    WHERE (s.value, s.quality) IS DISTINCT FROM (u.value, u.quality)
    ORDER BY u.i`);
  const conflicts: SampleConflict[] = [];
  for (const row of differing) {
    const sample = batch[row.i];
    if (sample === undefined) continue;
    const stored = {
      value: row.value,
      quality: row.quality === 0 ? "good" : "bad",
      reason: row.reason,
    } as const;
    conflicts.push({ sample, reason: narrowConflictReason(sample, stored) });
  }
  return conflicts;
}
