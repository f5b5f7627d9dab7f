/**
 * The original tool's table often holds the same time in two rows: it wrote local wall time, and
 * the autumn hour repeats. plantbridge does not need a unique time (wide-layout.ts writes under a
 * table lock, one time at a time), so such a table is used as it is; this says so once, at warn.
 * The check reads the whole table: it runs in the background (the layout's upkeep), and only when
 * the table has no unique index on its time column.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import type { Log } from "../../lib/log.ts";
import { tableExists } from "./layout.ts";
import { indexesLedBy } from "./time-index.ts";

const duplicates = z.object({ times: z.number(), example: z.string().nullable() });

/** Logs the duplicate times if there are any; true when it could check (found some or not). */
export async function reportDuplicateTimes(
  db: CommonQueryMethods,
  target: { schema: string; table: string; timeColumn: string },
  log: Log,
): Promise<boolean> {
  const { schema, table, timeColumn } = target;
  if (!(await tableExists(db, schema, table))) return false;
  const indexes = await indexesLedBy(db, schema, table, timeColumn);
  if (indexes.some((i) => i.valid && i.unique && i.keys === 1)) return true;
  const time = sql.identifier([timeColumn]);
  const found = await db.one(sql.type(duplicates)`
    SELECT count(*)::int AS times, min(d.t)::text AS example
    FROM (SELECT ${time} AS t FROM ${sql.identifier([schema, table])} GROUP BY ${time} HAVING count(*) > 1) d`);
  if (found.times === 0) return true;
  log.warn(
    { table: `${schema}.${table}`, duplicateTimes: found.times, example: found.example },
    `historian wide table ${schema}.${table} holds ${found.times} time(s) in more than one row (e.g. ${found.example}, ` +
      "as a tool writing local time leaves behind in the repeated autumn hour). plantbridge does not need a unique time: " +
      "it writes under a table lock, one time at a time, never overwrites a cell that holds a value, and keeps " +
      "conflicting samples as dead letters. It adds no unique index and changes none of these rows.",
  );
  return true;
}
