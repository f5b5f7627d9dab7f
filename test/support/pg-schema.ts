/**
 * PostgreSQL helpers for tests: the test database's URL, a schema name unique to one test run,
 * and a function that drops it. Tests read what the historian stored through `testPool`.
 */
import { randomBytes } from "node:crypto";
import { createPool, type DatabasePool, sql } from "slonik";
import { historianTypeParsers } from "../../adapters/postgres/pool.ts";

/** The PostgreSQL the tests use: 127.0.0.1:5432, trust auth, database `test`. */
export const testDatabaseUrl =
  process.env.PLANTBRIDGE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** `pb_<area>_<random>`: lower case, safe as an identifier, unique per run. */
export function uniqueSchemaName(area: string): string {
  const safeArea = area
    .toLowerCase()
    .replaceAll(/[^a-z0-9]+/g, "_")
    .slice(0, 30);
  return `pb_${safeArea}_${randomBytes(5).toString("hex")}`;
}

/** A small pool with the historian's type parsers (timestamptz as epoch ms, int8 as number). */
export function testPool(url: string = testDatabaseUrl): Promise<DatabasePool> {
  return createPool(url, { typeParsers: historianTypeParsers(), maxPoolSize: 2, connectionTimeout: 5_000 });
}

/** Drops the schema and everything in it. */
export async function dropSchema(schema: string, url: string = testDatabaseUrl): Promise<void> {
  const pool = await testPool(url);
  try {
    await pool.query(sql.unsafe`DROP SCHEMA IF EXISTS ${sql.identifier([schema])} CASCADE`);
  } finally {
    await pool.end();
  }
}
