/**
 * The narrow historian stays bounded and queryable for months: `samples` has a BRIN index on
 * time (created with the table, and added at open to an older table that lacks it), and with
 * `retention` the samples older than that are deleted in small batches, about once an hour.
 */
import { type DatabasePool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import { retention } from "../../../adapters/postgres/retention.ts";
import type { HistorianSink } from "../../../adapters/types.ts";
import { captureLog } from "../../support/historian-faults.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import {
  countRows,
  indexesOf,
  narrowConfig,
  narrowRows,
  referenceTags,
  spooled,
  until,
} from "./historian-kit.ts";

const day = 86_400_000;
const now = Date.UTC(2026, 2, 1, 12, 0, 0);
let pool: DatabasePool;
const schemas: string[] = [];
const sinks: HistorianSink[] = [];

function freshSchema(area: string): string {
  const schema = uniqueSchemaName(area);
  schemas.push(schema);
  return schema;
}

/** `count` samples of PEMEL.current, one per second from `from`. */
function series(from: number, count: number, value = 1) {
  return spooled(
    Array.from({ length: count }, (_, i) => ({
      tag: "PEMEL.current",
      time: from + i * 1000,
      value,
      quality: "good" as const,
    })),
  );
}

beforeAll(async () => {
  pool = await testPool();
});

afterAll(async () => {
  for (const s of sinks) await s.close();
  for (const s of schemas) await dropSchema(s);
  await pool.end();
});

describe("narrow historian: time index", () => {
  const brin = (schema: string) => `CREATE INDEX samples_time_brin ON ${schema}.samples USING brin ("time")`;

  it("is created with the table, and added at open to a samples table that lacks it", async () => {
    const schema = freshSchema("time_index");
    const first = createPostgresSink({
      url: testDatabaseUrl,
      historian: narrowConfig(schema),
      log: captureLog().log,
    });
    sinks.push(first);
    await first.open(referenceTags);
    expect((await indexesOf(pool, schema, "samples")).map((i) => i.definition)).toContain(brin(schema));
    await first.close();

    // A table from an older plantbridge: no index on time.
    await pool.query(sql.unsafe`DROP INDEX ${sql.identifier([schema, "samples_time_brin"])}`);
    const captured = captureLog();
    const second = createPostgresSink({
      url: testDatabaseUrl,
      historian: narrowConfig(schema),
      log: captured.log,
    });
    sinks.push(second);
    await second.open(referenceTags);
    await until("the BRIN index on time", async () =>
      (await indexesOf(pool, schema, "samples")).some((i) => i.definition === brin(schema) && i.valid),
    );
    const warned = captured.lines().filter((l) => l.level === 40);
    expect(warned.map((l) => l.ddl)).toEqual([
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS "samples_time_brin" ON "${schema}"."samples" USING brin ("time")`,
    ]);
  });

  it("is not added with alterTable: false, which says so", async () => {
    const schema = freshSchema("time_index_kept");
    const first = createPostgresSink({
      url: testDatabaseUrl,
      historian: narrowConfig(schema),
      log: captureLog().log,
    });
    sinks.push(first);
    await first.open(referenceTags);
    await first.close();
    await pool.query(sql.unsafe`DROP INDEX ${sql.identifier([schema, "samples_time_brin"])}`);
    const captured = captureLog();
    const untouched = createPostgresSink({
      url: testDatabaseUrl,
      historian: { ...narrowConfig(schema), alterTable: false },
      log: captured.log,
    });
    sinks.push(untouched);
    await untouched.open(referenceTags);
    await until("the missing index to be reported", () =>
      captured.lines().some((l) => String(l.msg).includes("not adding one")),
    );
    expect((await indexesOf(pool, schema, "samples")).map((i) => i.name)).toEqual(["samples_pkey"]);
  });
});

describe("narrow historian: retention", () => {
  it("deletes the samples older than the retention from the write path, keeps the rest", async () => {
    const schema = freshSchema("retention");
    const captured = captureLog();
    const s = createPostgresSink({
      url: testDatabaseUrl,
      historian: { ...narrowConfig(schema), retentionMs: 400 * day },
      log: captured.log,
      retentionRowsPerStatement: 10,
      wallNow: () => now,
    });
    sinks.push(s);
    await s.open(referenceTags);
    const old = series(now - 500 * day, 25);
    const recent = series(now - 399 * day, 5, 2);
    await s.write([...old, ...recent]);
    await until(
      "the old samples to be deleted",
      async () => (await countRows(pool, schema, "samples")) === 5,
    );
    expect((await narrowRows(pool, schema)).map((r) => r.time)).toEqual(recent.map((r) => r.time));
    const said = captured.lines().filter((l) => String(l.msg).startsWith("historian retention"));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 30, deleted: 25, statements: 3, deletedSinceStart: 25 });
    expect(String(said[0]?.msg)).toContain(
      "deleted 25 sample(s) older than 2025-01-25T12:00:00.000Z in 3 statement(s)",
    );
  });

  it("runs at most once per hour on the monotonic clock, in statements of at most rowsPerStatement rows", async () => {
    const schema = freshSchema("retention_hourly");
    const s = createPostgresSink({
      url: testDatabaseUrl,
      historian: narrowConfig(schema),
      log: captureLog().log,
    });
    sinks.push(s);
    await s.open(referenceTags);
    const captured = captureLog("debug");
    let clock = 1_000_000;
    const keeper = retention({
      schema,
      retentionMs: 400 * day,
      rowsPerStatement: 4,
      statementDeadlineMs: 30_000,
      monotonicNow: () => clock,
      wallNow: () => now,
      log: captured.log,
    });
    const db = () => Promise.resolve(pool);
    try {
      await s.write(series(now - 401 * day, 9));
      await keeper.poke(db);
      expect(keeper.deleted).toBe(9);
      expect(captured.lines().at(-1)).toMatchObject({ deleted: 9, statements: 3 });

      await s.write(series(now - 402 * day, 2));
      clock += 59 * 60_000;
      expect(keeper.poke(db)).toBeUndefined();
      expect(await countRows(pool, schema, "samples")).toBe(2);
      clock += 60_000;
      await keeper.poke(db);
      expect(keeper.deleted).toBe(11);
      expect(await countRows(pool, schema, "samples")).toBe(0);
    } finally {
      await keeper.stop();
    }
  });
});
