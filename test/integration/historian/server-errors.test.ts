/**
 * What the server itself says during trouble: a statement that runs past the statement timeout
 * (57014), a backend ended by an administrator (57P01) — both are "retry later", never data
 * errors — and an idle connection killed between writes, which must not lose the next write.
 */
import { type DatabasePool, sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import type { HistorianSink } from "../../../adapters/types.ts";
import { silentLog } from "../../../lib/log.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import { countRows, cycleAt, narrowConfig, referenceTags, t0 } from "./historian-kit.ts";

const schema = uniqueSchemaName("server_errors");
const applicationName = schema;
let pool: DatabasePool;
/** A second pool: slonik refuses a pool's own queries inside one of its transactions. */
let watcher: DatabasePool;
let sink: HistorianSink;

const pids = z.object({ pid: z.number() });

/** Backends of the sink (found by application_name) that wait for a lock. */
async function waitingSinkBackends(): Promise<readonly number[]> {
  return watcher.anyFirst(sql.type(pids)`
    SELECT pid FROM pg_stat_activity
    WHERE application_name = ${applicationName} AND wait_event_type = 'Lock'`);
}

async function pollUntil<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  pool = await testPool();
  watcher = await testPool();
  const url = new URL(testDatabaseUrl);
  url.searchParams.set("application_name", applicationName);
  sink = createPostgresSink({
    url: url.toString(),
    historian: narrowConfig(schema),
    log: silentLog(),
    connectionTimeoutMs: 2_000,
    statementTimeoutMs: 1_000,
  });
  await sink.open(referenceTags);
});

afterAll(async () => {
  await sink.close();
  await dropSchema(schema);
  await pool.end();
  await watcher.end();
});

const samples = sql.identifier([schema, "samples"]);

/**
 * Holds an ACCESS EXCLUSIVE lock on the samples table until `release()`. The caller works outside
 * the transaction's callback: slonik refuses other pools' queries inside a transaction's async context.
 */
async function lockSamples(): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holder = pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`LOCK TABLE ${samples} IN ACCESS EXCLUSIVE MODE`);
    locked();
    await released;
  });
  await Promise.race([isLocked, holder]);
  return {
    release: async () => {
      release();
      await holder;
    },
  };
}

function outcomeOf(write: Promise<unknown>): Promise<string> {
  return write.then(
    () => "resolved",
    (e: Error & { code?: string }) => `${e.code} ${e.message}`,
  );
}

describe("postgres sink and server-side errors", () => {
  it("treats a statement timeout (57014) as unavailable, and retries fine", async () => {
    const batch = cycleAt(t0, 1, true);
    const lock = await lockSamples();
    const outcome = await outcomeOf(sink.write(batch)).finally(() => lock.release());
    expect(outcome).toMatch(/^PB_ERR_HISTORIAN_UNAVAILABLE .*SQLSTATE 57014/);
    await sink.write(batch);
    expect(await countRows(pool, schema, "samples")).toBe(3);
  });

  it("treats a backend ended by an administrator (57P01) as unavailable, and retries fine", async () => {
    const batch = cycleAt(t0 + 10_000, 2, false);
    const lock = await lockSamples();
    let outcome: string;
    try {
      const write = outcomeOf(sink.write(batch));
      const [pid] = await pollUntil(async () => {
        const found = await waitingSinkBackends();
        return found.length > 0 ? found : undefined;
      }, "the sink's write to wait for the lock");
      await watcher.query(sql.unsafe`SELECT pg_terminate_backend(${pid ?? 0})`);
      outcome = await write;
    } finally {
      await lock.release();
    }
    expect(outcome).toMatch(/^PB_ERR_HISTORIAN_UNAVAILABLE .*SQLSTATE 57P01/);
    await sink.write(batch);
    expect(await countRows(pool, schema, "samples")).toBe(6);
  });

  it("loses no write when an idle connection was ended between writes", async () => {
    await sink.write(cycleAt(t0 + 20_000, 3, true));
    await pool.query(sql.unsafe`
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${applicationName}`);
    // The first write after it may find the dead connection (unavailable, retried) or a fresh one.
    const batch = cycleAt(t0 + 30_000, 4, false);
    const first = await outcomeOf(sink.write(batch));
    expect(first).toMatch(/^(resolved|PB_ERR_HISTORIAN_UNAVAILABLE )/);
    if (first !== "resolved") await sink.write(batch);
    expect(await countRows(pool, schema, "samples")).toBe(12);
  });
});
