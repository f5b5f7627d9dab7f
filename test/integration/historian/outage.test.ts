/**
 * The database cut by a TCP proxy the test owns: writes fail promptly with
 * PB_ERR_HISTORIAN_UNAVAILABLE (no hang) and the same batch goes through once the link is back.
 */
import type { DatabasePool } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import type { HistorianSink } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { startTcpProxy, type TcpProxy } from "../../../simulators/network/tcp-proxy.ts";
import { dropSchema, testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import { codeOf, countRows, cycleAt, narrowConfig, referenceTags, t0 } from "./historian-kit.ts";

const schema = uniqueSchemaName("outage");
const target = new URL(testDatabaseUrl);
let proxy: TcpProxy;
let pool: DatabasePool;
let sink: HistorianSink;

function viaProxy(): string {
  const url = new URL(testDatabaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return url.toString();
}

beforeAll(async () => {
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  pool = await testPool();
  sink = createPostgresSink({
    url: viaProxy(),
    historian: narrowConfig(schema),
    log: silentLog(),
    connectionTimeoutMs: 1_000,
    statementTimeoutMs: 1_000,
    pingTimeoutMs: 1_000,
  });
});

afterAll(async () => {
  await sink.close();
  await proxy.close();
  await dropSchema(schema);
  await pool.end();
});

describe("postgres sink during a database outage", () => {
  it("cannot open while the database is cut, and opens once it is back", async () => {
    proxy.sever();
    expect(await codeOf(sink.open(referenceTags))).toBe(ErrorCode.HISTORIAN_UNAVAILABLE);
    expect(await sink.ping()).toBe(false);
    proxy.restore();
    await sink.open(referenceTags);
    expect(await sink.ping()).toBe(true);
    expect(proxy.accepted).toBeGreaterThan(0);
  });

  it("rejects a write promptly with PB_ERR_HISTORIAN_UNAVAILABLE when cut, then writes the same batch", async () => {
    await sink.write(cycleAt(t0, 10, true));
    const batch = cycleAt(t0 + 10_000, 11, false);

    proxy.sever();
    let caught: unknown;
    await sink.write(batch).catch((e) => {
      caught = e;
    });
    expect(isPlantbridgeError(caught, ErrorCode.HISTORIAN_UNAVAILABLE)).toBe(true);
    // Still cut: the next attempt fails the same way (the pool is rebuilt, not stuck).
    expect(await codeOf(sink.write(batch))).toBe(ErrorCode.HISTORIAN_UNAVAILABLE);
    expect(await sink.ping()).toBe(false);
    expect(await countRows(pool, schema, "samples")).toBe(3);

    proxy.restore();
    await sink.write(batch);
    expect(await countRows(pool, schema, "samples")).toBe(6);
    // A replay after recovery (the forwarder did not see the ack) inserts nothing twice.
    await sink.write(batch);
    expect(await countRows(pool, schema, "samples")).toBe(6);
  });

  it("fails a write cut while it is under way, and its retry stores the batch exactly once", async () => {
    const batch = cycleAt(t0 + 20_000, 12, true);
    // Cut once the write has started: its transaction either committed or rolled back.
    const write = sink.write(batch);
    proxy.sever();
    const code = await codeOf(write);
    expect(["resolved", ErrorCode.HISTORIAN_UNAVAILABLE]).toContain(code);
    proxy.restore();
    await sink.write(batch);
    expect(await countRows(pool, schema, "samples")).toBe(9);
  });

  it("does not hang when the network goes silent: the write gives up with PB_ERR_HISTORIAN_UNAVAILABLE", async () => {
    await sink.write(cycleAt(t0 + 30_000, 13, true));
    const batch = cycleAt(t0 + 40_000, 14, false);
    proxy.stall();
    // An idle pooled connection hears nothing back (client-side deadline)…
    expect(await codeOf(sink.write(batch))).toBe(ErrorCode.HISTORIAN_UNAVAILABLE);
    // …and a new connection cannot complete its start-up (connection timeout).
    expect(await codeOf(sink.write(batch))).toBe(ErrorCode.HISTORIAN_UNAVAILABLE);
    expect(await sink.ping()).toBe(false);
    proxy.restore();
    await sink.write(batch);
    expect(await countRows(pool, schema, "samples")).toBe(15);
  }, 30_000);
});
