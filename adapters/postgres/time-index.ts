/**
 * The index that makes time-range queries cheap, kept up outside of delivery: the narrow
 * `samples` table gets a BRIN index on time (tiny, cheap for time-ordered appends; its primary
 * key (tag_id, time) serves one tag at a time only), a wide table a plain btree on its time
 * column (the write path looks rows up by time). Built with CREATE INDEX CONCURRENTLY on an
 * existing table, so neither delivery nor other users of the table wait for it; a build that was
 * cut short leaves an invalid index, which the next attempt drops and builds again.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import type { Log } from "../../lib/log.ts";
import { regclassText, statementText, tableExists } from "./layout.ts";

export interface TimeIndexTarget {
  schema: string;
  table: string;
  column: string;
  /** The name plantbridge gives the index it builds. */
  indexName: string;
  method: "brin" | "btree";
  /** False: report a missing index, never build one (storage.historian.alterTable: false). */
  alterTable: boolean;
}

const indexRow = z.object({ name: z.string(), valid: z.boolean(), unique: z.boolean(), keys: z.number() });
export type TimeIndex = z.infer<typeof indexRow>;

/** Indexes of the table whose first key column is `column` (no partial indexes). */
export async function indexesLedBy(
  db: CommonQueryMethods,
  schema: string,
  table: string,
  column: string,
): Promise<readonly TimeIndex[]> {
  return db.any(sql.type(indexRow)`
    SELECT c.relname AS name, i.indisvalid AS valid, i.indisunique AS unique, i.indnkeyatts::int AS keys
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = to_regclass(${regclassText(schema, table)}) AND a.attname = ${column}
      AND i.indpred IS NULL`);
}

/**
 * Builds the time index when the table has no valid index led by its time column. Statements
 * run outside a transaction (CONCURRENTLY needs that); `stopped` is asked between them.
 */
export async function keepTimeIndex(
  db: CommonQueryMethods,
  target: TimeIndexTarget,
  log: Log,
  stopped: () => boolean,
): Promise<void> {
  const { schema, table, column, indexName } = target;
  // Dropped meanwhile: whoever creates it again creates it with its index.
  if (!(await tableExists(db, schema, table))) return;
  const indexes = await indexesLedBy(db, schema, table, column);
  if (indexes.some((i) => i.valid)) return;
  const where = `${schema}.${table}`;
  if (!target.alterTable) {
    log.warn(
      { table: where, column },
      `historian table ${where} has no index on ${column}: time-range queries and lookups scan the table; not adding one (storage.historian.alterTable is false)`,
    );
    return;
  }
  const index = sql.identifier([schema, indexName]);
  if (indexes.some((i) => i.name === indexName)) {
    // An earlier CONCURRENTLY build was cut short (stopped, timed out): it left an invalid index.
    const drop = sql.unsafe`DROP INDEX CONCURRENTLY IF EXISTS ${index}`;
    log.warn(
      { table: where, ddl: statementText(drop) },
      `historian: dropping the invalid index ${indexName}`,
    );
    await db.query(drop);
  }
  if (stopped()) return;
  const method = target.method === "brin" ? sql.fragment`brin` : sql.fragment`btree`;
  const ddl = sql.unsafe`
    CREATE INDEX CONCURRENTLY IF NOT EXISTS ${sql.identifier([indexName])}
    ON ${sql.identifier([schema, table])} USING ${method} (${sql.identifier([column])})`;
  log.warn(
    { table: where, ddl: statementText(ddl) },
    `historian: adding an index on ${where} (${column}) for time-range queries, in the background: ${statementText(ddl)}`,
  );
  const started = performance.now();
  await db.query(ddl);
  log.info(
    { table: where, index: indexName, ms: Math.round(performance.now() - started) },
    `historian: index ${indexName} on ${where} is ready`,
  );
}
