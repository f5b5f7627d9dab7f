import { type DatabasePool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import type { HistorianSink } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import {
  codeOf,
  countRows,
  cycleAt,
  narrowConfig,
  narrowRows,
  referenceTags,
  spooled,
  t0,
} from "./historian-kit.ts";

const schema = uniqueSchemaName("narrow");
let pool: DatabasePool;
const sinks: HistorianSink[] = [];

function sink(): HistorianSink {
  const s = createPostgresSink({ url: testDatabaseUrl, historian: narrowConfig(schema), log: silentLog() });
  sinks.push(s);
  return s;
}

beforeAll(async () => {
  pool = await testPool();
});

afterAll(async () => {
  for (const s of sinks) await s.close();
  await dropSchema(schema);
  await pool.end();
});

const tagRow = z.object({
  name: z.string(),
  unit: z.string().nullable(),
  engineering_unit: z.string().nullable(),
  description: z.string().nullable(),
});

describe("postgres sink, narrow layout", () => {
  it("creates its schema and tables, idempotently, from several processes at once", async () => {
    const [a, b, c] = [sink(), sink(), sink()];
    await Promise.all([a.open(referenceTags), b.open(referenceTags), c.open(referenceTags)]);
    await a.open(referenceTags);
    const tags = await pool.any(
      sql.type(
        tagRow,
      )`SELECT name, unit, engineering_unit, description FROM ${sql.identifier([schema, "tags"])} ORDER BY name`,
    );
    expect(tags).toEqual([
      {
        name: "METH.h2_demand",
        unit: "METH",
        engineering_unit: "Nl/min",
        description: "H2 demand computed by METH",
      },
      { name: "PEMEL.cooling_ready", unit: "PEMEL", engineering_unit: null, description: "status bit 10" },
      { name: "PEMEL.current", unit: "PEMEL", engineering_unit: "A", description: null },
    ]);
    expect(await countRows(pool, schema, "samples")).toBe(0);
  });

  it("stores exactly the samples: values, booleans as 1/0, bad quality with its reason", async () => {
    const s = sink();
    await s.open(referenceTags);
    await s.write([...cycleAt(t0, 12.5, true), ...cycleAt(t0 + 10_000, 13.25, false)]);
    expect(await narrowRows(pool, schema)).toEqual([
      { name: "METH.h2_demand", time: t0, value: 12.5, quality: 0, reason: null },
      { name: "PEMEL.cooling_ready", time: t0, value: 1, quality: 0, reason: null },
      {
        name: "PEMEL.current",
        time: t0,
        value: null,
        quality: 1,
        reason: "Modbus exception 2 (illegal data address)",
      },
      { name: "METH.h2_demand", time: t0 + 10_000, value: 13.25, quality: 0, reason: null },
      { name: "PEMEL.cooling_ready", time: t0 + 10_000, value: 0, quality: 0, reason: null },
      {
        name: "PEMEL.current",
        time: t0 + 10_000,
        value: null,
        quality: 1,
        reason: "Modbus exception 2 (illegal data address)",
      },
    ]);
  });

  it("inserts nothing twice when the same batch is replayed", async () => {
    const s = sink();
    await s.open(referenceTags);
    const batch = cycleAt(t0 + 20_000, 14, true);
    await s.write(batch);
    const after = await countRows(pool, schema, "samples");
    await s.write(batch);
    await s.write([...batch, ...cycleAt(t0 + 30_000, 15, true)]);
    expect(await countRows(pool, schema, "samples")).toBe(after + 3);
  });

  it("keeps the millisecond of a sample's time exactly", async () => {
    const s = sink();
    await s.open([]);
    const times = [t0 + 1, t0 + 999, Date.UTC(2262, 0, 1, 0, 0, 0, 7), Date.UTC(1970, 0, 1, 0, 0, 0, 1)];
    await s.write(
      spooled(times.map((time) => ({ tag: "METH.clock", time, value: 1, quality: "good" as const }))),
    );
    const rows = (await narrowRows(pool, schema)).filter((r) => r.name === "METH.clock");
    expect(rows.map((r) => r.time)).toEqual([...times].sort((x, y) => x - y));
  });

  it("registers a tag it has not seen on the fly, with its unit", async () => {
    const s = sink();
    await s.open([]);
    await s.write(spooled([{ tag: "METH.new_sensor", time: t0, value: 3, quality: "good" }]));
    const tags = await pool.any(
      sql.type(
        tagRow,
      )`SELECT name, unit, engineering_unit, description FROM ${sql.identifier([schema, "tags"])}
                       WHERE name = 'METH.new_sensor'`,
    );
    expect(tags).toEqual([
      { name: "METH.new_sensor", unit: "METH", engineering_unit: null, description: null },
    ]);
  });

  it("rejects data the database refuses with PB_ERR_HISTORIAN_REJECTED and the SQLSTATE, storing none of the batch", async () => {
    const s = sink();
    await s.open(referenceTags);
    const before = await countRows(pool, schema, "samples");
    // Year 300000: beyond timestamptz (SQLSTATE 22008).
    const farFuture = spooled([
      { tag: "PEMEL.current", time: t0 + 40_000, value: 9, quality: "good" },
      { tag: "PEMEL.current", time: 9.4e15, value: 9, quality: "good" },
    ]);
    let caught: unknown;
    await s.write(farFuture).catch((e) => {
      caught = e;
    });
    expect(isPlantbridgeError(caught, ErrorCode.HISTORIAN_REJECTED)).toBe(true);
    expect(String((caught as Error).message)).toContain("SQLSTATE 22008");
    expect(isPlantbridgeError(caught) && caught.origin).toEqual({ unit: "PEMEL", tag: "current" });
    expect(await countRows(pool, schema, "samples")).toBe(before);

    // A CHECK the test adds (SQLSTATE 23514).
    await pool.query(sql.unsafe`
      ALTER TABLE ${sql.identifier([schema, "samples"])}
      ADD CONSTRAINT current_in_range CHECK (value IS NULL OR value < 1000)`);
    try {
      const tooHigh = spooled([{ tag: "PEMEL.current", time: t0 + 50_000, value: 5000, quality: "good" }]);
      const message = await s.write(tooHigh).then(
        () => "resolved",
        (e: Error) => `${(e as { code?: string }).code} ${e.message}`,
      );
      expect(message).toMatch(/^PB_ERR_HISTORIAN_REJECTED .*SQLSTATE 23514/);
      // The sink stays usable after a rejection.
      await s.write(spooled([{ tag: "PEMEL.current", time: t0 + 50_000, value: 50, quality: "good" }]));
      expect(await countRows(pool, schema, "samples")).toBe(before + 1);
    } finally {
      await pool.query(
        sql.unsafe`ALTER TABLE ${sql.identifier([schema, "samples"])} DROP CONSTRAINT current_in_range`,
      );
    }
  });

  it("refuses to write before open and after close, and pings", async () => {
    const s = sink();
    expect(await codeOf(s.write(cycleAt(t0, 1, true)))).toBe(ErrorCode.NOT_CONNECTED);
    expect(await s.ping()).toBe(true);
    await s.open(referenceTags);
    await s.close();
    expect(await codeOf(s.write(cycleAt(t0, 1, true)))).toBe(ErrorCode.NOT_CONNECTED);
    expect(await s.ping()).toBe(false);
  });
});
