import { type DatabasePool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import type { HistorianSink } from "../../../adapters/types.ts";
import { ErrorCode } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import type { HistorianConfig } from "../../../schemas/plant-types.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import { codeOf, countRows, spooled, t0 } from "./historian-kit.ts";

const schema = uniqueSchemaName("wide");
let pool: DatabasePool;
const sinks: HistorianSink[] = [];

/** A slice of the original tool's table: METH values, a status bit, a PEMEL value. */
function wideConfig(table: string, timeColumn = "timestamp"): HistorianConfig {
  return {
    schema,
    layout: "wide",
    alterTable: true,
    table,
    timeColumn,
    columns: [
      { column: "real_temperature", tag: { unit: "METH", tag: "temperature" } },
      { column: "h2_cooling_temperature_reached", tag: { unit: "PEMEL", tag: "cooling_ready" } },
      { column: "el_temp_In_act", tag: { unit: "PEMEL", tag: "inlet_temperature" } },
    ],
  };
}

function sink(table: string): HistorianSink {
  const s = createPostgresSink({ url: testDatabaseUrl, historian: wideConfig(table), log: silentLog() });
  sinks.push(s);
  return s;
}

const wideRow = z.object({
  timestamp: z.number(),
  real_temperature: z.number().nullable(),
  h2_cooling_temperature_reached: z.number().nullable(),
  el_temp_in: z.number().nullable(),
});

async function rows(table: string, inletColumn = "el_temp_In_act") {
  return pool.any(sql.type(wideRow)`
    SELECT "timestamp", real_temperature, h2_cooling_temperature_reached,
           ${sql.identifier([inletColumn])} AS el_temp_in
    FROM ${sql.identifier([schema, table])} ORDER BY "timestamp"`);
}

beforeAll(async () => {
  pool = await testPool();
});

afterAll(async () => {
  for (const s of sinks) await s.close();
  await dropSchema(schema);
  await pool.end();
});

describe("postgres sink, wide layout", () => {
  it("creates the table with a unique time column and one double precision column per tag", async () => {
    const s = sink("pilot_plant");
    await s.open([]);
    await s.open([]);
    const columns = await pool.any(sql.type(z.object({ column_name: z.string(), data_type: z.string() }))`
      SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = ${schema} AND table_name = 'pilot_plant' ORDER BY ordinal_position`);
    expect(columns).toEqual([
      { column_name: "timestamp", data_type: "timestamp with time zone" },
      { column_name: "real_temperature", data_type: "double precision" },
      { column_name: "h2_cooling_temperature_reached", data_type: "double precision" },
      { column_name: "el_temp_In_act", data_type: "double precision" },
    ]);
  });

  it("assembles one row per time, booleans as 1/0, bad quality as NULL, and replays idempotently", async () => {
    const s = sink("pilot_plant");
    await s.open([]);
    const batch = spooled([
      { tag: "METH.temperature", time: t0, value: 37.5, quality: "good" },
      { tag: "PEMEL.cooling_ready", time: t0, value: true, quality: "good" },
      { tag: "PEMEL.inlet_temperature", time: t0, value: null, quality: "bad", reason: "Timeout" },
      { tag: "METH.temperature", time: t0 + 10_000, value: 37.75, quality: "good" },
      { tag: "PEMEL.cooling_ready", time: t0 + 10_000, value: false, quality: "good" },
      { tag: "PEMEL.inlet_temperature", time: t0 + 10_000, value: 41, quality: "good" },
    ]);
    await s.write(batch);
    await s.write(batch);
    expect(await rows("pilot_plant")).toEqual([
      { timestamp: t0, real_temperature: 37.5, h2_cooling_temperature_reached: 1, el_temp_in: null },
      { timestamp: t0 + 10_000, real_temperature: 37.75, h2_cooling_temperature_reached: 0, el_temp_in: 41 },
    ]);
  });

  it("merges rows of the same time that arrive in different batches, never erasing a stored value", async () => {
    const s = sink("merge_plant");
    await s.open([]);
    const time = t0 + 60_000;
    await s.write(spooled([{ tag: "METH.temperature", time, value: 38, quality: "good" }]));
    await s.write(
      spooled([
        { tag: "PEMEL.cooling_ready", time, value: true, quality: "good" },
        { tag: "METH.temperature", time, value: null, quality: "bad", reason: "BadNodeIdUnknown" },
      ]),
    );
    await s.write(spooled([{ tag: "PEMEL.inlet_temperature", time, value: 40.5, quality: "good" }]));
    expect(await rows("merge_plant")).toEqual([
      { timestamp: time, real_temperature: 38, h2_cooling_temperature_reached: 1, el_temp_in: 40.5 },
    ]);
    expect(await countRows(pool, schema, "merge_plant")).toBe(1);
  });

  it("adopts the original table: adds missing columns, matches folded names, merges by time without a key", async () => {
    // As the original tool created it: unquoted (lower-cased) names, no key on the time column.
    await pool.query(sql.unsafe`CREATE SCHEMA IF NOT EXISTS ${sql.identifier([schema])}`);
    await pool.query(sql.unsafe`
      CREATE TABLE ${sql.identifier([schema, "original"])} (
        "timestamp" timestamptz NOT NULL, real_temperature double precision, el_temp_in_act double precision)`);
    const s = sink("original");
    await s.open([]);
    const time = t0 + 120_000;
    await s.write(
      spooled([
        { tag: "METH.temperature", time, value: 36, quality: "good" },
        { tag: "PEMEL.inlet_temperature", time, value: 39, quality: "good" },
        { tag: "PEMEL.cooling_ready", time, value: true, quality: "good" },
      ]),
    );
    await s.write(spooled([{ tag: "METH.temperature", time, value: 36, quality: "good" }]));
    expect(await rows("original", "el_temp_in_act")).toEqual([
      { timestamp: time, real_temperature: 36, h2_cooling_temperature_reached: 1, el_temp_in: 39 },
    ]);
  });

  it("rejects a sample of a tag that has no column, naming the tag, and refuses a bad mapping at creation", async () => {
    const s = sink("pilot_plant");
    await s.open([]);
    const stray = spooled([{ tag: "METH.pressure", time: t0, value: 1.2, quality: "good" }]);
    expect(await codeOf(s.write(stray))).toBe(ErrorCode.HISTORIAN_REJECTED);
    const twice: HistorianConfig = {
      ...wideConfig("bad"),
      columns: [
        { column: "a", tag: { unit: "METH", tag: "x" } },
        { column: "a", tag: { unit: "METH", tag: "y" } },
      ],
    };
    expect(() => createPostgresSink({ url: testDatabaseUrl, historian: twice, log: silentLog() })).toThrow(
      expect.objectContaining({ code: ErrorCode.CONFIG }),
    );
  });
});
