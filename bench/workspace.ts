/**
 * Where one bench run keeps its things: a folder var/bench/run-<random> (removed at the end) and a
 * PostgreSQL for the historian figures — the development server at 127.0.0.1:5432 (database `test`,
 * user `postgres`; PLANTBRIDGE_TEST_PG_URL overrides it) or, when that does not answer, the
 * embedded PostgreSQL under the run folder. Each bench makes its own schema and drops it after.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPool, type DatabasePool, sql } from "slonik";
import { startEmbeddedPostgres } from "../adapters/embedded-postgres/embedded.ts";
import { historianTypeParsers } from "../adapters/postgres/pool.ts";
import { errorMessage } from "../lib/errors.ts";
import { silentLog } from "../lib/log.ts";

export const repoRoot = fileURLToPath(new URL("../", import.meta.url));
export const benchVarDir = join(repoRoot, "var", "bench");

const developmentUrl = process.env.PLANTBRIDGE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface Workspace {
  /** var/bench/run-<random>, created; removed by `close()`. */
  dir: string;
  /** The historian URL the benches use (may hold a password: never print it). */
  databaseUrl: string;
  /** "development PostgreSQL at 127.0.0.1:5432" or "embedded PostgreSQL". */
  databaseKind: string;
  /** `pb_bench_<area>_<random>`: a schema name unique to this run. */
  schemaName(area: string): string;
  /** A small slonik pool with the historian's type parsers; the caller ends it. */
  pool(): Promise<DatabasePool>;
  dropSchema(schema: string): Promise<void>;
  close(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    const pool = await createPool(url, { connectionTimeout: 3_000, maxPoolSize: 1 });
    await pool.end();
    return true;
  } catch {
    return false;
  }
}

export async function openWorkspace(say: (line: string) => void): Promise<Workspace> {
  const dir = join(benchVarDir, `run-${randomBytes(4).toString("hex")}`);
  await mkdir(dir, { recursive: true });
  let databaseUrl = developmentUrl;
  let databaseKind = "development PostgreSQL (127.0.0.1:5432, database test)";
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!(await answers(developmentUrl))) {
    say("the development PostgreSQL does not answer: starting the embedded one under the run folder");
    try {
      const embedded = await startEmbeddedPostgres({ dataDir: join(dir, "postgres"), log: silentLog() });
      databaseUrl = embedded.url;
      databaseKind = "embedded PostgreSQL (embedded-postgres)";
      stopEmbedded = () => embedded.stop();
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`no PostgreSQL for the historian benches: ${errorMessage(e)}`);
    }
  }
  const pool = () =>
    createPool(databaseUrl, {
      typeParsers: historianTypeParsers(),
      maxPoolSize: 2,
      connectionTimeout: 5_000,
      statementTimeout: 300_000,
    });
  return {
    dir,
    databaseUrl,
    databaseKind,
    schemaName: (area) => `pb_bench_${area}_${randomBytes(4).toString("hex")}`,
    pool,
    async dropSchema(schema) {
      const db = await pool();
      try {
        await db.query(sql.unsafe`DROP SCHEMA IF EXISTS ${sql.identifier([schema])} CASCADE`);
      } finally {
        await db.end();
      }
    },
    async close() {
      await stopEmbedded?.();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
