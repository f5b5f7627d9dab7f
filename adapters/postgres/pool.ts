/**
 * The slonik pool the historian uses: small, with short connection and statement timeouts so
 * an outage fails a write promptly instead of hanging, and with the type parsers chosen on
 * purpose (slonik's preset turns int8 into bigint, which JSON.stringify refuses).
 */
import {
  createPool,
  createTypeParserPreset,
  type DatabasePool,
  type DriverTypeParser,
  type SlonikError,
} from "slonik";
import type { Log } from "../../lib/log.ts";
import { guardPgClientErrors } from "./client-error-guard.ts";

export interface HistorianPoolOptions {
  /** Connect (TCP + authentication) within this, or fail. */
  connectionTimeoutMs: number;
  /** The server cancels a statement that runs longer (SET statement_timeout). */
  statementTimeoutMs: number;
  /** Connections kept at most; one writer needs one, ping and open another. */
  maxConnections: number;
  log: Log;
}

/**
 * The preset (timestamptz and timestamp as epoch ms, numeric as number, date, interval) with
 * int8 as a plain number: counts and identities here stay far below 2^53.
 */
export function historianTypeParsers(): readonly DriverTypeParser[] {
  const int8AsNumber: DriverTypeParser<number> = { name: "int8", parse: (value) => Number(value) };
  return [...createTypeParserPreset().filter((p) => p.name !== "int8"), int8AsNumber];
}

/**
 * Creates the pool. slonik 49 connects once here (it looks up the type parsers' OIDs), so this
 * rejects when the database cannot be reached.
 */
export async function createHistorianPool(url: string, options: HistorianPoolOptions): Promise<DatabasePool> {
  guardPgClientErrors();
  const pool = await createPool(url, {
    typeParsers: historianTypeParsers(),
    connectionTimeout: options.connectionTimeoutMs,
    statementTimeout: options.statementTimeoutMs,
    idleInTransactionSessionTimeout: options.statementTimeoutMs,
    idleTimeout: 60_000,
    maxPoolSize: options.maxConnections,
    // The caller (the forwarder and its connection machine) owns retries and backoff.
    connectionRetryLimit: 0,
    queryRetryLimit: 0,
    transactionRetryLimit: 1,
    gracefulTerminationTimeout: 1_000,
    captureStackTrace: false,
  });
  // An unhandled 'error' event would end the process: a dropped idle connection is only logged.
  pool.on("error", (error: SlonikError) => {
    options.log.warn({ err: error.message }, "historian connection error");
  });
  return pool;
}
