/**
 * Turns whatever slonik, pg or the socket threw into a coded historian error, at the edge:
 *
 * - REJECTED: the database refused the data itself — SQLSTATE class 22 (data exception, e.g.
 *   timestamp out of range) or 23 (integrity constraint, e.g. a CHECK). Retrying the same
 *   batch cannot help; the forwarder splits it and dead-letters the rows that still fail.
 * - UNAVAILABLE: everything else. Connection refused/reset/terminated, timeouts, "the database
 *   system is starting up", admin shutdown, lock and serialization conflicts — retry later with
 *   the same batch. Errors not recognised as an outage are UNAVAILABLE too (never dropped), but
 *   flagged `known: false` so the caller logs them loudly.
 */
import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  InvalidInputError,
  StatementTimeoutError,
} from "slonik";
import { ErrorCode, type ErrorOrigin, errorMessage, PlantbridgeError } from "../../lib/errors.ts";

export interface ClassifiedError {
  error: PlantbridgeError;
  /** False when the failure was not recognised; it is still retried, and should be logged at error level. */
  known: boolean;
  /** SQLSTATE when the database answered with one. */
  sqlState?: string;
}

/** SQLSTATE classes meaning "the server cannot take this now": connection (08), resources (53), operator (57), system (58), rollback (40). */
const outageClasses = new Set(["08", "40", "53", "55", "57", "58"]);

const socketCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

const outageMessages = [
  "connection terminated",
  "timeout exceeded when trying to connect",
  // pg Client: connectionTimeoutMillis passed while connecting.
  "timeout expired",
  "connection timeout",
  "the database system is starting up",
  "the database system is shutting down",
  "terminating connection due to administrator command",
  "client has encountered a connection error",
  "connection is not queryable",
  "socket hang up",
  "pool is ending",
  "pool has ended",
  "timed out",
];

/** The error and its causes, outermost first (AggregateError members included). */
function chainOf(e: unknown): unknown[] {
  const chain: unknown[] = [];
  const queue: unknown[] = [e];
  while (queue.length > 0 && chain.length < 16) {
    const next = queue.shift();
    if (next === undefined || next === null || chain.includes(next)) continue;
    chain.push(next);
    if (typeof next === "object") {
      if ("cause" in next) queue.push(next.cause);
      if (next instanceof AggregateError) queue.push(...next.errors);
    }
  }
  return chain;
}

function codeOf(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code;
  return undefined;
}

/**
 * The SQLSTATE a database error carries. A socket error's code can look like one ("EPIPE",
 * "EPERM": five capitals), so errors from a system call (they have `syscall`) never count.
 */
function sqlStateOf(e: unknown): string | undefined {
  const code = codeOf(e);
  if (code === undefined || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (typeof e === "object" && e !== null && "syscall" in e) return undefined;
  return code;
}

/**
 * The database's own words. slonik wraps the server's error in a generic one ("Query violates a
 * check integrity constraint.") and keeps the server's message (which names the constraint) and
 * its DETAIL (e.g. "Failing row contains (...)") only in `cause`: a dead letter must say why.
 */
function reasonOf(e: unknown, chain: readonly unknown[]): string {
  const outer = errorMessage(e);
  const server = chain.find((c) => sqlStateOf(c) !== undefined);
  if (server === undefined) return outer;
  const words = errorMessage(server);
  const detail =
    typeof server === "object" && server !== null && "detail" in server && typeof server.detail === "string"
      ? ` (${server.detail})`
      : "";
  return `${words === "" || outer.includes(words) ? outer : words}${detail}`;
}

/** The SQLSTATE the database answered with, anywhere in the error's chain of causes. */
export function sqlStateIn(e: unknown): string | undefined {
  return chainOf(e)
    .map(sqlStateOf)
    .find((c) => c !== undefined);
}

export function classifyHistorianError(
  e: unknown,
  context: string,
  origin: ErrorOrigin = {},
): ClassifiedError {
  const chain = chainOf(e);
  const detail = reasonOf(e, chain);
  const sqlState = chain.map(sqlStateOf).find((c) => c !== undefined);
  const rejected = (state: string): ClassifiedError => ({
    error: new PlantbridgeError(
      ErrorCode.HISTORIAN_REJECTED,
      `${context}: the database refused the data (SQLSTATE ${state}): ${detail}`,
      origin,
      { cause: e },
    ),
    known: true,
    sqlState: state,
  });
  const unavailable = (known: boolean, state?: string): ClassifiedError => ({
    error: new PlantbridgeError(
      ErrorCode.HISTORIAN_UNAVAILABLE,
      `${context}: historian unavailable${state ? ` (SQLSTATE ${state})` : ""}: ${detail}`,
      origin,
      { cause: e },
    ),
    known,
    ...(state ? { sqlState: state } : {}),
  });

  if (sqlState !== undefined) {
    const cls = sqlState.slice(0, 2);
    if (cls === "22" || cls === "23") return rejected(sqlState);
    return unavailable(outageClasses.has(cls), sqlState);
  }
  // slonik maps 22P02 (invalid text representation) to InvalidInputError without the code, and
  // uses the same class for values it cannot bind (undefined, objects): both are the data's fault.
  if (chain.some((c) => c instanceof InvalidInputError)) return rejected("22P02");
  if (
    chain.some(
      (c) =>
        c instanceof BackendTerminatedError ||
        c instanceof BackendTerminatedUnexpectedlyError ||
        c instanceof StatementTimeoutError,
    )
  ) {
    return unavailable(true);
  }
  if (chain.some((c) => socketCodes.has(codeOf(c) ?? ""))) return unavailable(true);
  const text = chain.map((c) => errorMessage(c).toLowerCase()).join(" | ");
  if (outageMessages.some((m) => text.includes(m))) return unavailable(true);
  return unavailable(false);
}
