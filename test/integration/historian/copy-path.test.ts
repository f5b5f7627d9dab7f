/**
 * The narrow historian's write path: each batch one binary COPY on a writer connection; a batch
 * that meets stored rows goes again through the session's staging table (ON CONFLICT DO NOTHING).
 *
 * - Binary COPY stores every value as the samples hold it (NaN, ±Infinity, NULL with any reason
 *   text, times before 2000 and far ahead).
 * - The staging table never carries rows from one batch into the next (ON COMMIT DELETE ROWS, and
 *   a rolled-back batch takes its rows with it): a conflict is reported once, a failed batch
 *   leaves nothing behind.
 * - Pipelined delivery with the real spool: when the database refuses the second of two batches on
 *   their way, the cursor stays after the first; when the first fails after the second committed,
 *   the cursor stays at 0 and the next delivery stores nothing twice.
 */
import { join } from "node:path";
import { type DatabasePool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { HistorianSink, Sample } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { deliverFromSpool } from "../../../machines/deliver-spool.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import {
  codeOf,
  countRows,
  makeTestDir,
  narrowConfig,
  narrowRows,
  referenceTags,
  spooled,
  t0,
} from "./historian-kit.ts";

const schema = uniqueSchemaName("copy_path");
let pool: DatabasePool;
let sink: HistorianSink;
let folder: ReturnType<typeof makeTestDir>;

beforeAll(async () => {
  pool = await testPool();
  folder = makeTestDir("historian-copy-path");
  sink = createPostgresSink({ url: testDatabaseUrl, historian: narrowConfig(schema), log: silentLog() });
  await sink.open(referenceTags);
});

afterAll(async () => {
  await sink?.close();
  await dropSchema(schema);
  await pool.end();
  folder?.remove();
});

const samplesTable = () => sql.identifier([schema, "samples"]);

describe("narrow historian, binary COPY", () => {
  it("stores NaN, infinities, NULL with any reason text, and times before 2000 and far ahead exactly", async () => {
    const reason = "Zeitüberschreitung ✓ \\ back\tslash\nnew line";
    const early = Date.UTC(1999, 11, 31, 23, 59, 59, 999);
    const late = Date.UTC(9999, 0, 1, 0, 0, 0, 1);
    const batch = spooled([
      { tag: "METH.h2_demand", time: early, value: Number.NaN, quality: "good" },
      { tag: "METH.h2_demand", time: late, value: Number.POSITIVE_INFINITY, quality: "good" },
      { tag: "PEMEL.current", time: early, value: Number.NEGATIVE_INFINITY, quality: "good" },
      { tag: "PEMEL.current", time: late, value: null, quality: "bad", reason },
      { tag: "PEMEL.cooling_ready", time: early, value: false, quality: "good" },
      { tag: "PEMEL.cooling_ready", time: late, value: 2 ** -1074, quality: "good" },
    ]);
    expect(await sink.write(batch)).toEqual({ conflicts: [] });
    const rows = await pool.any(sql.unsafe`
      SELECT t.name, (extract(epoch FROM s.time) * 1000)::float8 AS ms, s.value::text AS value, s.quality, s.reason
      FROM ${samplesTable()} s JOIN ${sql.identifier([schema, "tags"])} t ON t.id = s.tag_id
      WHERE s.time IN (timestamptz 'epoch' + ${early} * interval '1 millisecond', timestamptz 'epoch' + ${late} * interval '1 millisecond')
      ORDER BY t.name, s.time`);
    expect(rows).toEqual([
      { name: "METH.h2_demand", ms: early, value: "NaN", quality: 0, reason: null },
      { name: "METH.h2_demand", ms: late, value: "Infinity", quality: 0, reason: null },
      { name: "PEMEL.cooling_ready", ms: early, value: "0", quality: 0, reason: null },
      { name: "PEMEL.cooling_ready", ms: late, value: "5e-324", quality: 0, reason: null },
      { name: "PEMEL.current", ms: early, value: "-Infinity", quality: 0, reason: null },
      { name: "PEMEL.current", ms: late, value: null, quality: 1, reason },
    ]);
    // The same batch again is a replay: no conflict (NaN equals NaN), nothing stored twice.
    expect(await sink.write(batch.map((s) => ({ ...s })))).toEqual({ conflicts: [] });
    expect(await countRows(pool, schema, "samples")).toBe(6);
  });
});

describe("narrow historian, staging table", () => {
  it("reports a conflict once: the next batch's check never meets the rows of the one before", async () => {
    const time = t0 + 1_000_000;
    const first = spooled([
      { tag: "METH.h2_demand", time, value: 1, quality: "good" },
      { tag: "PEMEL.current", time, value: 2, quality: "good" },
    ]);
    await sink.write(first);
    const changed = spooled([
      { tag: "METH.h2_demand", time, value: 1, quality: "good" },
      { tag: "PEMEL.current", time, value: 3, quality: "good" },
    ]);
    const { conflicts } = await sink.write(changed);
    expect(conflicts.map((c) => c.sample)).toEqual([changed[1]]);
    // A replay through the staging path: had the staged rows of `changed` stayed, its conflict
    // would come back here.
    expect(await sink.write(first)).toEqual({ conflicts: [] });
    expect(await sink.write(first)).toEqual({ conflicts: [] });
  });

  it("a staged batch the database refuses leaves no row behind for the next staged batch", async () => {
    const time = t0 + 2_000_000;
    const stored = spooled([{ tag: "PEMEL.current", time, value: 5, quality: "good" }]);
    await sink.write(stored);
    const before = await countRows(pool, schema, "samples");
    // Meets a stored row (so it is staged), and holds a time PostgreSQL cannot store (22008).
    const refused = spooled([
      { tag: "PEMEL.current", time, value: 5, quality: "good" },
      { tag: "METH.h2_demand", time: time + 1000, value: 7, quality: "good" },
      { tag: "METH.h2_demand", time: 9.4e15, value: 7, quality: "good" },
    ]);
    expect(await codeOf(sink.write(refused))).toBe(ErrorCode.HISTORIAN_REJECTED);
    expect(await countRows(pool, schema, "samples")).toBe(before);
    const replay = spooled([
      { tag: "PEMEL.current", time, value: 5, quality: "good" },
      { tag: "METH.h2_demand", time: time + 2000, value: 8, quality: "good" },
    ]);
    expect(await sink.write(replay)).toEqual({ conflicts: [] });
    expect(await countRows(pool, schema, "samples")).toBe(before + 1);
    const rows = await narrowRows(pool, schema);
    expect(rows.filter((r) => r.time === time + 1000)).toEqual([]);
  });
});

function cycles(from: number, count: number, value: (i: number) => number): Sample[] {
  return Array.from({ length: count }, (_, i) => ({
    tag: "PEMEL.current",
    time: t0 + 10_000_000 + (from + i) * 1000,
    value: value(from + i),
    quality: "good" as const,
  }));
}

/** A trigger that lets the test make the database refuse or hold chosen rows. */
async function installTrigger(body: string): Promise<void> {
  const fn = sql.identifier([schema, "test_refuse"]);
  await pool.query(
    sql.unsafe`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${sql.literalValue(body)}`,
  );
  await pool.query(sql.unsafe`
    CREATE OR REPLACE TRIGGER test_refuse BEFORE INSERT ON ${samplesTable()}
    FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
}
async function dropTrigger(): Promise<void> {
  await pool.query(sql.unsafe`DROP TRIGGER IF EXISTS test_refuse ON ${samplesTable()}`);
}

describe("pipelined delivery into PostgreSQL", () => {
  it("the database refuses the second of two batches on their way: the cursor stays after the first", async () => {
    expect(sink.pipelineDepth).toBe(2);
    const spool = openSpool({
      path: join(folder.dir, "second.sqlite"),
      sinks: [sink.name],
      maxSamples: 1000,
      synchronous: "NORMAL",
      log: silentLog(),
    });
    try {
      // Batches of 3: seq 1-3, 4-6 (holds the refused value 666), 7-9.
      const batch = cycles(0, 9, (i) => (i === 4 ? 666 : i));
      spool.append(batch);
      // The refusal waits until the first batch has committed (both are on their way at once): on a
      // busy machine the second could otherwise fail first, and the sink's answer to an unavailable
      // database could end the first one's write as well. Bounded: it refuses anyway after 60 s.
      const firstBatch = batch.slice(0, 3).map((s) => new Date(s.time).toISOString());
      await installTrigger(`DECLARE waited int := 0; BEGIN
        IF NEW.value = 666 THEN
          WHILE waited < 6000 AND (SELECT count(*) FROM "${schema}".samples
                WHERE time IN ('${firstBatch.join("', '")}')) < 3 LOOP
            PERFORM pg_sleep(0.01);
            waited := waited + 1;
          END LOOP;
          RAISE EXCEPTION 'refused for the test' USING ERRCODE = '53100';
        END IF;
        RETURN NEW; END`);
      const outcome = await deliverFromSpool({
        sink,
        spool,
        first: spool.readBatch(sink.name, 3),
        batchSize: 3,
        maxBatches: 16,
      });
      expect(isPlantbridgeError(outcome.failure, ErrorCode.HISTORIAN_UNAVAILABLE)).toBe(true);
      expect(spool.stats().pending[sink.name]).toBe(6);
      await dropTrigger();
      const again = await deliverFromSpool({
        sink,
        spool,
        first: spool.readBatch(sink.name, 3),
        batchSize: 3,
        maxBatches: 16,
      });
      expect(again.failure).toBeUndefined();
      expect(spool.stats().pending[sink.name]).toBe(0);
    } finally {
      await dropTrigger();
      spool.close();
    }
  });

  it("the first batch fails after the second committed: nothing is acked, and the next delivery stores nothing twice", async () => {
    const spool = openSpool({
      path: join(folder.dir, "first.sqlite"),
      sinks: [sink.name],
      maxSamples: 1000,
      synchronous: "NORMAL",
      log: silentLog(),
    });
    try {
      // Seq 1-3 holds 777 (fails once 888 of seq 4-6 is committed), seq 4-6 holds 888.
      spool.append(cycles(100, 6, (i) => (i === 101 ? 777 : i === 104 ? 888 : i)));
      const before = await countRows(pool, schema, "samples");
      await installTrigger(`BEGIN
        IF NEW.value = 777 THEN
          FOR i IN 1..1500 LOOP
            EXIT WHEN EXISTS (SELECT 1 FROM "${schema}".samples WHERE value = 888);
            PERFORM pg_sleep(0.02);
          END LOOP;
          RAISE EXCEPTION 'refused for the test' USING ERRCODE = '53100';
        END IF;
        RETURN NEW; END`);
      const outcome = await deliverFromSpool({
        sink,
        spool,
        first: spool.readBatch(sink.name, 3),
        batchSize: 3,
        maxBatches: 16,
      });
      expect(isPlantbridgeError(outcome.failure, ErrorCode.HISTORIAN_UNAVAILABLE)).toBe(true);
      expect(outcome.delivery.delivered).toBe(0);
      // The second batch is in the database, yet the cursor did not move.
      expect(await countRows(pool, schema, "samples")).toBe(before + 3);
      expect(spool.stats().pending[sink.name]).toBe(6);
      await dropTrigger();
      const again = await deliverFromSpool({
        sink,
        spool,
        first: spool.readBatch(sink.name, 3),
        batchSize: 3,
        maxBatches: 16,
      });
      expect(again.failure).toBeUndefined();
      expect(again.delivery).toMatchObject({ delivered: 6, conflicts: 0 });
      expect(spool.stats().pending[sink.name]).toBe(0);
      expect(await countRows(pool, schema, "samples")).toBe(before + 6);
    } finally {
      await dropTrigger();
      spool.close();
    }
  });
});
