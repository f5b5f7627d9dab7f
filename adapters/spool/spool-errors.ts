/**
 * Transactions and errors of the spool: all of a change or nothing, and every failure a
 * PB_ERR_SPOOL naming the spool file and what the disk said (full, read-only, I/O error, …).
 */
import type { DatabaseSync } from "node:sqlite";
import { ErrorCode, errorMessage, isPlantbridgeError, PlantbridgeError } from "../../lib/errors.ts";

/** SQLite primary result codes worth naming to an operator. */
const sqliteCauses: Readonly<Record<number, string>> = {
  5: "another connection holds the file locked",
  8: "the spool file or its folder is read-only",
  10: "the disk may be full or failing",
  11: "the file is damaged",
  13: "no space left on the disk",
  14: "check that its folder exists and is writable",
  26: "the file is not an SQLite database",
};

/** What SQLite's error says about the disk, in an operator's words; "" when nothing specific. */
export function sqliteCause(e: unknown): string {
  if (typeof e !== "object" || e === null || !("errcode" in e)) return "";
  const code = Number((e as { errcode: unknown }).errcode) & 0xff;
  return sqliteCauses[code] ?? "";
}

export function asSpoolError(path: string, op: string, e: unknown): PlantbridgeError {
  if (isPlantbridgeError(e)) return e;
  const cause = sqliteCause(e);
  return new PlantbridgeError(
    ErrorCode.SPOOL,
    `spool ${path}: ${op} failed: ${errorMessage(e)}${cause === "" ? "" : ` (${cause})`}`,
    {},
    { cause: e },
  );
}

/** Runs `work` in one IMMEDIATE transaction: all of it or nothing. */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (e) {
    // A failed COMMIT (disk full) may have rolled back already; a failing ROLLBACK must not hide `e`.
    try {
      if (db.isTransaction) db.exec("ROLLBACK");
    } catch {
      // the first error is the one to report
    }
    throw e;
  }
}
