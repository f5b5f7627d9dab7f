/**
 * The original tool's own table: a local `timestamp without time zone` time column, no key on it,
 * often duplicate times from past DST changes. plantbridge writes the plant's wall time, keeps the
 * first of the repeated autumn hour (the second comes back as conflicts), starts on a table with
 * duplicate times, logs every change to the table at warn with its DDL, and with
 * `alterTable: false` changes nothing at all.
 */
import { type DatabasePool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import type { HistorianSink } from "../../../adapters/types.ts";
import { ErrorCode } from "../../../lib/errors.ts";
import type { HistorianConfig } from "../../../schemas/plant-types.ts";
import { captureLog } from "../../support/historian-faults.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import { indexesOf, spooled, until } from "./historian-kit.ts";

const schema = uniqueSchemaName("wide_original");
let pool: DatabasePool;
const sinks: HistorianSink[] = [];

function config(table: string, alterTable = true): HistorianConfig {
  return {
    schema,
    layout: "wide",
    alterTable,
    table,
    timeColumn: "timestamp",
    timeZone: "Europe/Berlin",
    columns: [
      { column: "real_temperature", tag: { unit: "METH", tag: "temperature" } },
      { column: "h2_cooling_temperature_reached", tag: { unit: "PEMEL", tag: "cooling_ready" } },
    ],
  };
}

function sink(historian: HistorianConfig) {
  const captured = captureLog("info");
  const s = createPostgresSink({ url: testDatabaseUrl, historian, log: captured.log });
  sinks.push(s);
  const lines = (level: number) =>
    captured
      .lines()
      .filter((l) => l.level === level)
      .map((l) => String(l.msg));
  return { sink: s, warnings: () => lines(40), errors: () => lines(50) };
}

/** As the original tool created it: local time, no key, unquoted (lower-case) names. */
async function originalTable(table: string, withCooling = true): Promise<void> {
  await pool.query(sql.unsafe`CREATE SCHEMA IF NOT EXISTS ${sql.identifier([schema])}`);
  await pool.query(sql.unsafe`
    CREATE TABLE ${sql.identifier([schema, table])} (
      "timestamp" timestamp without time zone NOT NULL,
      real_temperature double precision
      ${withCooling ? sql.fragment`, h2_cooling_temperature_reached double precision` : sql.fragment``})`);
}

const localRow = z.object({
  local: z.string(),
  temperature: z.number().nullable(),
  ready: z.number().nullable(),
});

async function rows(table: string) {
  return pool.any(sql.type(localRow)`
    SELECT "timestamp"::text AS local, real_temperature AS temperature, h2_cooling_temperature_reached AS ready
    FROM ${sql.identifier([schema, table])} ORDER BY "timestamp", real_temperature NULLS FIRST`);
}

const sample = (tag: string, iso: string, value: number | boolean) =>
  ({ tag, time: Date.parse(iso), value, quality: "good" }) as const;

beforeAll(async () => {
  pool = await testPool();
});

afterAll(async () => {
  for (const s of sinks) await s.close();
  await dropSchema(schema);
  await pool.end();
});

describe("the original tool's wide table", () => {
  it("gets the plant's wall time, and the repeated autumn hour never overwrites the first (Europe/Berlin)", async () => {
    await originalTable("autumn");
    const { sink: s } = sink(config("autumn"));
    await s.open([]);
    // 26 October 2025: 00:30 UTC is 02:30 CEST; at 01:00 UTC the clocks go back, 01:30 UTC is 02:30 CET.
    const firstHour = spooled([
      sample("METH.temperature", "2025-10-25T23:30:00Z", 36.5),
      sample("METH.temperature", "2025-10-26T00:30:00Z", 37),
      sample("PEMEL.cooling_ready", "2025-10-26T00:30:00Z", true),
    ]);
    expect(await s.write(firstHour)).toEqual({ conflicts: [] });
    const secondHour = spooled([
      sample("METH.temperature", "2025-10-26T01:30:00Z", 38),
      sample("PEMEL.cooling_ready", "2025-10-26T01:30:00Z", true),
      sample("METH.temperature", "2025-10-26T02:00:00Z", 39),
    ]);
    const { conflicts } = await s.write(secondHour);
    expect(conflicts.map((c) => c.sample)).toEqual([secondHour[0]]);
    expect(conflicts[0]?.reason).toBe(
      `conflict: ${schema}.autumn already holds 37 in column "real_temperature" at ` +
        "2025-10-26 02:30:00.000 (local time, Europe/Berlin); METH.temperature at 2025-10-26T01:30:00.000Z " +
        "has 38 (good); the stored value is not overwritten",
    );
    // Both hours in one batch (a backlog after an outage) give the same answer.
    const oneBatch = spooled([
      sample("METH.temperature", "2025-10-26T00:45:00Z", 40),
      sample("METH.temperature", "2025-10-26T01:45:00Z", 41),
    ]);
    expect((await s.write(oneBatch)).conflicts.map((c) => c.sample)).toEqual([oneBatch[1]]);
    expect(await rows("autumn")).toEqual([
      { local: "2025-10-26 01:30:00", temperature: 36.5, ready: null },
      { local: "2025-10-26 02:30:00", temperature: 37, ready: 1 },
      { local: "2025-10-26 02:45:00", temperature: 40, ready: null },
      { local: "2025-10-26 03:00:00", temperature: 39, ready: null },
    ]);
  });

  it("starts on a table with duplicate times, says so once, and writes around them", async () => {
    await originalTable("duplicates");
    await pool.query(sql.unsafe`
      INSERT INTO ${sql.identifier([schema, "duplicates"])} ("timestamp", real_temperature, h2_cooling_temperature_reached)
      VALUES ('2024-10-27 02:30:00', 10, NULL), ('2024-10-27 02:30:00', 11, NULL), ('2024-10-27 02:40:00', 12, 1)`);
    const { sink: s, warnings } = sink(config("duplicates"));
    await s.open([]);
    await until("the duplicate times to be reported", () =>
      warnings().some((w) => w.includes("more than one row")),
    );
    const said = warnings().filter((w) => w.includes("more than one row"));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(
      `${schema}.duplicates holds 1 time(s) in more than one row (e.g. 2024-10-27 02:30:00`,
    );
    expect(said[0]).toContain("never overwrites a cell that holds a value");
    // 2024-10-27 01:30 UTC is 02:30 CET, 01:40 UTC 02:40 CET.
    const batch = spooled([
      sample("METH.temperature", "2024-10-27T01:30:00Z", 11), // equal to one of the two rows: a replay
      sample("PEMEL.cooling_ready", "2024-10-27T01:30:00Z", true), // both rows NULL: filled
      sample("METH.temperature", "2024-10-27T01:40:00Z", 13), // holds 12: a conflict
      sample("METH.temperature", "2024-10-27T01:50:00Z", 14), // a new time
    ]);
    const { conflicts } = await s.write(batch);
    expect(conflicts.map((c) => c.sample)).toEqual([batch[2]]);
    expect(await rows("duplicates")).toEqual([
      { local: "2024-10-27 02:30:00", temperature: 10, ready: 1 },
      { local: "2024-10-27 02:30:00", temperature: 11, ready: 1 },
      { local: "2024-10-27 02:40:00", temperature: 12, ready: 1 },
      { local: "2024-10-27 02:50:00", temperature: 14, ready: null },
    ]);
    // No unique index on time; a plain one for the lookups, logged with its DDL.
    await until("the time index", async () =>
      (await indexesOf(pool, schema, "duplicates")).some((i) => i.valid),
    );
    const indexes = await indexesOf(pool, schema, "duplicates");
    expect(indexes.map((i) => i.definition)).toEqual([
      `CREATE INDEX duplicates_timestamp_idx ON ${schema}.duplicates USING btree ("timestamp")`,
    ]);
    expect(
      warnings().some((w) =>
        w.includes(`CREATE INDEX CONCURRENTLY IF NOT EXISTS "duplicates_timestamp_idx"`),
      ),
    ).toBe(true);
  });

  it("logs an added column at warn with its DDL", async () => {
    await originalTable("adopted", false);
    const { sink: s, warnings } = sink(config("adopted"));
    await s.open([]);
    expect(warnings()).toContain(
      `historian: changed table ${schema}.adopted: ALTER TABLE "${schema}"."adopted" ADD COLUMN IF NOT EXISTS "h2_cooling_temperature_reached" double precision`,
    );
  });

  it("with alterTable: false changes nothing: a missing column is a config error naming table and column", async () => {
    await originalTable("untouched", false);
    const { sink: s, warnings, errors } = sink(config("untouched", false));
    const refused = await s.open([]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({
      code: ErrorCode.CONFIG,
      origin: { keyPath: "storage.historian.columns.h2_cooling_temperature_reached" },
    });
    expect(String((refused as Error).message)).toContain(
      `historian wide table ${schema}.untouched has no column "h2_cooling_temperature_reached"`,
    );
    // Said once at error, however often the forwarder retries.
    await s.open([]).catch(() => undefined);
    expect(errors().filter((e) => e.includes("cannot open"))).toHaveLength(1);
    // The DBA adds it; the next attempt starts, and plantbridge adds no index.
    await pool.query(sql.unsafe`
      ALTER TABLE ${sql.identifier([schema, "untouched"])} ADD COLUMN h2_cooling_temperature_reached double precision`);
    await s.open([]);
    await until("the missing index to be reported", () =>
      warnings().some((w) => w.includes("not adding one")),
    );
    await s.write(spooled([sample("METH.temperature", "2025-01-01T00:00:00Z", 20)]));
    expect(await rows("untouched")).toEqual([{ local: "2025-01-01 01:00:00", temperature: 20, ready: null }]);
    expect(await indexesOf(pool, schema, "untouched")).toEqual([]);
  });
});
