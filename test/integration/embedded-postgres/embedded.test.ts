/**
 * The embedded PostgreSQL in a var/test folder: first start runs initdb, the sink writes a batch,
 * a restart on the same data directory keeps the rows; the folder is removed afterwards.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from "../../../adapters/embedded-postgres/embedded.ts";
import { createPostgresSink } from "../../../adapters/postgres/postgres-sink.ts";
import { silentLog } from "../../../lib/log.ts";
import { testPool } from "../../support/pg-schema.ts";
import {
  countRows,
  cycleAt,
  makeTestDir,
  narrowConfig,
  narrowRows,
  referenceTags,
  t0,
} from "../historian/historian-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let server: EmbeddedPostgres | undefined;

beforeAll(() => {
  folder = makeTestDir("embedded-pg");
});

afterAll(async () => {
  await server?.stop();
  folder.remove();
});

describe("embedded PostgreSQL", () => {
  it("starts on a free loopback port, stores a batch, and keeps it across a restart", async () => {
    const dataDir = join(folder.dir, "postgres");
    const log = silentLog();
    const signalHandlers = process.listenerCount("SIGINT");

    server = await startEmbeddedPostgres({ dataDir, log });
    expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true);
    expect(statSync(`${dataDir}.password`).mode & 0o077).toBe(0);
    expect(new URL(server.url).hostname).toBe("127.0.0.1");
    expect(new URL(server.url).pathname).toBe("/plantbridge");
    // Importing embedded-postgres must not take over the plant's signal handling.
    expect(process.listenerCount("SIGINT")).toBe(signalHandlers);

    const sink = createPostgresSink({ url: server.url, historian: narrowConfig("historian"), log });
    await sink.open(referenceTags);
    await sink.write([...cycleAt(t0, 12.5, true), ...cycleAt(t0 + 10_000, 13, false)]);
    await sink.close();
    const firstPort = server.port;
    await server.stop();
    server = undefined;

    server = await startEmbeddedPostgres({ dataDir, log, port: firstPort });
    const pool = await testPool(server.url);
    try {
      expect(await countRows(pool, "historian", "samples")).toBe(6);
      const rows = await narrowRows(pool, "historian");
      expect(rows[0]).toEqual({ name: "METH.h2_demand", time: t0, value: 12.5, quality: 0, reason: null });
    } finally {
      await pool.end();
    }
    await server.stop();
    server = undefined;
  });
});
