/**
 * A different value at a stored (tag, time) never vanishes. After the wall clock steps back, new
 * samples meet rows the narrow historian already holds: a replay (same value and quality) is a
 * no-op, another value comes back as a conflict naming tag, time, the stored and the new value,
 * and deliverBatch keeps it as a dead letter in the real spool, counted apart, and acks the batch.
 */
import { join } from "node:path";
import { type DatabasePool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { HistorianSink } from "../../../adapters/types.ts";
import { silentLog } from "../../../lib/log.ts";
import { deliverBatch } from "../../../machines/deliver-batch.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import {
  countRows,
  makeTestDir,
  narrowConfig,
  narrowRows,
  referenceTags,
  spooled,
  t0,
} from "./historian-kit.ts";

const schema = uniqueSchemaName("conflicts");
const valueRow = z.object({ value: z.number() });
let pool: DatabasePool;
let sink: HistorianSink;
let folder: ReturnType<typeof makeTestDir>;

beforeAll(async () => {
  pool = await testPool();
  folder = makeTestDir("historian-conflicts");
  sink = createPostgresSink({ url: testDatabaseUrl, historian: narrowConfig(schema), log: silentLog() });
  await sink.open(referenceTags);
});

afterAll(async () => {
  await sink?.close();
  await dropSchema(schema);
  await pool.end();
  folder?.remove();
});

describe("narrow historian: a different value at a stored (tag, time)", () => {
  it("comes back as a conflict with tag, time, stored and new value; replays stay no-ops", async () => {
    const time = t0;
    const first = spooled([
      { tag: "METH.h2_demand", time, value: 12.5, quality: "good" },
      { tag: "PEMEL.cooling_ready", time, value: true, quality: "good" },
      { tag: "PEMEL.current", time, value: 20, quality: "good" },
    ]);
    expect(await sink.write(first)).toEqual({ conflicts: [] });
    // A replay after a crash: nothing to report, nothing stored twice.
    expect(await sink.write(first)).toEqual({ conflicts: [] });

    // The wall clock stepped back an hour: the same times, other values (and one read failed).
    const later = spooled([
      { tag: "METH.h2_demand", time, value: 13, quality: "good" },
      { tag: "PEMEL.cooling_ready", time, value: true, quality: "good" },
      { tag: "PEMEL.current", time, value: null, quality: "bad", reason: "Timeout" },
      { tag: "PEMEL.current", time: time + 10_000, value: 21, quality: "good" },
    ]);
    const { conflicts } = await sink.write(later);
    expect(conflicts.map((c) => c.sample)).toEqual([later[0], later[2]]);
    expect(conflicts[0]?.reason).toBe(
      "conflict: the historian already holds METH.h2_demand at 2025-06-01T12:00:00.000Z = 12.5 (good); " +
        "this sample has 13 (good); the stored value is not overwritten",
    );
    expect(conflicts[1]?.reason).toContain("PEMEL.current at 2025-06-01T12:00:00.000Z = 20 (good)");
    expect(conflicts[1]?.reason).toContain("this sample has NULL (bad: Timeout)");

    const rows = await narrowRows(pool, schema);
    expect(rows.map((r) => [r.name, r.time, r.value])).toEqual([
      ["METH.h2_demand", time, 12.5],
      ["PEMEL.cooling_ready", time, 1],
      ["PEMEL.current", time, 20],
      ["PEMEL.current", time + 10_000, 21],
    ]);
  });

  it("is kept as a dead letter in the spool with that reason, counted apart, and the batch is acked", async () => {
    const spool = openSpool({
      path: join(folder.dir, "spool.sqlite"),
      sinks: [sink.name],
      maxSamples: 1000,
      synchronous: "NORMAL",
      log: silentLog(),
    });
    try {
      const time = t0 + 60_000;
      spool.append([
        { tag: "METH.h2_demand", time, value: 1, quality: "good" },
        { tag: "PEMEL.current", time, value: 2, quality: "good" },
      ]);
      const first = await deliverBatch(sink, spool, spool.readBatch(sink.name, 100));
      expect(first.delivery).toMatchObject({ delivered: 2, conflicts: 0, deadLettered: 0 });
      // Delivered samples leave the spool; after a clock step the same (tag, time) comes again.
      spool.append([
        { tag: "METH.h2_demand", time, value: 1, quality: "good" },
        { tag: "PEMEL.current", time, value: 3, quality: "good" },
        { tag: "PEMEL.current", time: time + 10_000, value: 4, quality: "good" },
      ]);
      const second = await deliverBatch(sink, spool, spool.readBatch(sink.name, 100));
      expect(second.failure).toBeUndefined();
      expect(second.delivery).toMatchObject({ delivered: 2, conflicts: 1, deadLettered: 0, writes: 1 });
      const letters = spool.readDeadLetters(sink.name, 10);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ tag: "PEMEL.current", time, value: 3 });
      expect(letters[0]?.error).toContain(
        "already holds PEMEL.current at 2025-06-01T12:01:00.000Z = 2 (good)",
      );
      expect(letters[0]?.error).toBe(second.delivery.conflictReasons[0]);
      expect(spool.stats()).toMatchObject({ pending: { [sink.name]: 0 }, deadLettered: 1 });
      const stored = await pool.oneFirst(sql.type(valueRow)`
        SELECT s.value FROM ${sql.identifier([schema, "samples"])} s
        JOIN ${sql.identifier([schema, "tags"])} t ON t.id = s.tag_id
        WHERE t.name = 'PEMEL.current' AND s.time = timestamptz 'epoch' + ${time} * interval '1 millisecond'`);
      expect(stored).toBe(2);
      expect(await countRows(pool, schema, "samples")).toBe(7);
    } finally {
      spool.close();
    }
  });
});
