/**
 * A dropped connection must never end the plant process. slonik's createPool looks up type OIDs
 * over a pg Client without an 'error' listener; a reset during that lookup was an uncaught
 * exception (seen when the network dropped just as the historian reconnected). With the guard
 * (client-error-guard.ts, installed by createHistorianPool) the reset only rejects the call.
 */
import { createRequire } from "node:module";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHistorianPool } from "../../../adapters/postgres/pool.ts";
import { silentLog } from "../../../lib/log.ts";
import { startTcpProxy } from "../../../simulators/network/tcp-proxy.ts";
import { testDatabaseUrl, testPool, uniqueSchemaName } from "../../support/pg-schema.ts";
import { until } from "./historian-kit.ts";

interface PlainClient {
  connect(): Promise<void>;
  once(event: "end", listener: () => void): void;
}
const require = createRequire(import.meta.url);
const { Client } = require("pg") as { Client: new (config: { connectionString: string }) => PlainClient };

const uncaught: unknown[] = [];
const record = (e: unknown) => uncaught.push(e);

beforeAll(() => {
  process.on("uncaughtException", record);
});

afterAll(() => {
  process.off("uncaughtException", record);
});

const options = {
  connectionTimeoutMs: 1_000,
  statementTimeoutMs: 1_000,
  maxConnections: 1,
  log: silentLog(),
};

describe("historian connections that die", () => {
  it("a pg Client without an error listener whose backend is terminated does not crash the process", async () => {
    const pool = await createHistorianPool(testDatabaseUrl, options);
    await pool.end();
    const name = uniqueSchemaName("orphan_client");
    const url = new URL(testDatabaseUrl);
    url.searchParams.set("application_name", name);
    const client = new Client({ connectionString: url.toString() });
    await client.connect();
    let ended = false;
    client.once("end", () => {
      ended = true;
    });
    const admin = await testPool();
    try {
      await admin.query(sql.unsafe`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name}`);
      await until("the client to see its connection end", () => ended);
    } finally {
      await admin.end();
    }
    expect(uncaught).toEqual([]);
  });

  it("building a pool while the network drops rejects or succeeds, never throws out of band", async () => {
    const target = new URL(testDatabaseUrl);
    for (let delayMs = 0; delayMs < 30; delayMs++) {
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const url = new URL(testDatabaseUrl);
      url.hostname = "127.0.0.1";
      url.port = String(proxy.port);
      const cut = setTimeout(() => proxy.sever(), delayMs);
      try {
        const pool = await createHistorianPool(url.toString(), options);
        await pool.query(sql.unsafe`SELECT 1`).catch(() => undefined);
        await pool.end().catch(() => undefined);
      } catch {
        // Refused or reset while connecting: the caller retries later.
      } finally {
        clearTimeout(cut);
        await proxy.close();
      }
    }
    // Give a late 'error' event its chance to surface.
    await new Promise((resolve) => setImmediate(resolve));
    expect(uncaught).toEqual([]);
  });
});
