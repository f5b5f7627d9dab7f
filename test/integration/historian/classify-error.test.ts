/** The edge classification, table-driven, on errors shaped like pg's, slonik's and the socket's. */
import {
  BackendTerminatedUnexpectedlyError,
  CheckIntegrityConstraintViolationError,
  InvalidInputError,
  NotNullIntegrityConstraintViolationError,
  StatementTimeoutError,
} from "slonik";
import { describe, expect, it } from "vitest";
import { classifyHistorianError } from "../../../adapters/postgres/classify-error.ts";
import { ErrorCode } from "../../../lib/errors.ts";

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });
}

const cases: [string, unknown, ErrorCode, boolean][] = [
  [
    "timestamp out of range (22008)",
    pgError("22008", "timestamp out of range"),
    ErrorCode.HISTORIAN_REJECTED,
    true,
  ],
  ["division by zero (22012)", pgError("22012", "division by zero"), ErrorCode.HISTORIAN_REJECTED, true],
  [
    "slonik check violation wrapping 23514",
    new CheckIntegrityConstraintViolationError(pgError("23514", "violates check constraint")),
    ErrorCode.HISTORIAN_REJECTED,
    true,
  ],
  [
    "slonik not-null violation wrapping 23502",
    new NotNullIntegrityConstraintViolationError(pgError("23502", "null value in column")),
    ErrorCode.HISTORIAN_REJECTED,
    true,
  ],
  [
    "slonik invalid input (22P02 without code)",
    new InvalidInputError("invalid input syntax"),
    ErrorCode.HISTORIAN_REJECTED,
    true,
  ],
  ["connection refused", socketError("ECONNREFUSED"), ErrorCode.HISTORIAN_UNAVAILABLE, true],
  ["connection reset", socketError("ECONNRESET"), ErrorCode.HISTORIAN_UNAVAILABLE, true],
  [
    "refused on every address (AggregateError)",
    new AggregateError([socketError("ECONNREFUSED"), socketError("ECONNREFUSED")], "connect failed"),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    true,
  ],
  [
    "starting up (57P03)",
    pgError("57P03", "the database system is starting up"),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    true,
  ],
  [
    "admin shutdown (57P01)",
    pgError("57P01", "terminating connection due to administrator command"),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    true,
  ],
  [
    "too many connections (53300)",
    pgError("53300", "sorry, too many clients already"),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    true,
  ],
  ["deadlock (40P01)", pgError("40P01", "deadlock detected"), ErrorCode.HISTORIAN_UNAVAILABLE, true],
  [
    "statement timeout",
    new StatementTimeoutError(pgError("57014", "canceling statement due to statement timeout")),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    true,
  ],
  [
    "backend terminated unexpectedly",
    new BackendTerminatedUnexpectedlyError(new Error("Connection terminated unexpectedly")),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    true,
  ],
  ["pg connect timeout", new Error("timeout expired"), ErrorCode.HISTORIAN_UNAVAILABLE, true],
  [
    "missing table (42P01): retried, flagged",
    pgError("42P01", 'relation "samples" does not exist'),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    false,
  ],
  [
    "anything else: retried, flagged",
    new TypeError("x is not a function"),
    ErrorCode.HISTORIAN_UNAVAILABLE,
    false,
  ],
  ["a thrown string", "boom", ErrorCode.HISTORIAN_UNAVAILABLE, false],
];

describe("historian error classification", () => {
  it.each(cases)("%s", (_, error, code, known) => {
    const classified = classifyHistorianError(error, "historian postgres: write", {
      unit: "PEMEL",
      tag: "current",
    });
    expect(classified.error.code).toBe(code);
    expect(classified.known).toBe(known);
    expect(classified.error.origin).toEqual({ unit: "PEMEL", tag: "current" });
    expect(classified.error.cause).toBe(error);
    expect(classified.error.message.startsWith("historian postgres: write: ")).toBe(true);
  });

  it("names the SQLSTATE in the message of a rejection", () => {
    const { error, sqlState } = classifyHistorianError(pgError("22008", "timestamp out of range"), "write");
    expect(sqlState).toBe("22008");
    expect(error.message).toContain("SQLSTATE 22008");
    expect(error.message).toContain("timestamp out of range");
  });
});
