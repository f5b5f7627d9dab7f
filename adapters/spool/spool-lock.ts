/**
 * Who owns a spool file. One process at a time may change a spool: the plant that runs on it, or
 * a `plantbridge spool replay|purge` while the plant is stopped (the plant keeps the spool's
 * counters in memory, so a change under it would make them wrong).
 *
 * The owner holds a write lock on a small SQLite file next to the spool (`<spool>.lock`) for as
 * long as it has the spool open. The lock belongs to the operating system: it goes away with the
 * process, however that ends (SIGKILL, power cut), so a lock is never stale. The file records the
 * owner's pid, role and since when, for messages, until a clean release; the file itself stays.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import { asSpoolError } from "./spool-errors.ts";

export interface SpoolOwner {
  pid: number;
  /** Epoch ms when it took the spool. */
  since: number;
  /** What it is: `plant`, `spool replay`, … */
  role: string;
}

export interface SpoolOwnership {
  readonly lockPath: string;
  /** Gives the spool up (idempotent). */
  release(): void;
}

export function lockPathOf(spoolPath: string): string {
  return `${spoolPath}.lock`;
}

/**
 * Takes the spool for this process, or throws PB_ERR_SPOOL naming the process that has it.
 * `role` says what this process is, for the message another one would print.
 */
export function claimSpool(spoolPath: string, role: string): SpoolOwnership {
  const lockPath = lockPathOf(spoolPath);
  let db: DatabaseSync;
  try {
    mkdirSync(dirname(lockPath), { recursive: true });
    db = new DatabaseSync(lockPath, { timeout: 0 });
  } catch (e) {
    throw asSpoolError(spoolPath, "claim (lock file)", e);
  }
  try {
    holdWriteLock(db, spoolPath, true);
    db.exec(
      "CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL, since INTEGER NOT NULL, role TEXT NOT NULL)",
    );
    db.exec("DELETE FROM owner");
    db.prepare("INSERT INTO owner (pid, since, role) VALUES (?, ?, ?)").run(process.pid, Date.now(), role);
    db.exec("COMMIT");
    // Held from here until release: readers may still read the owner row. (Lost in the instant
    // since the commit, the row read would be this process's own: it names no one then.)
    holdWriteLock(db, spoolPath, false);
  } catch (e) {
    db.close();
    throw asSpoolError(spoolPath, "claim (lock file)", e);
  }
  let released = false;
  return {
    lockPath,
    release(): void {
      if (released) return;
      released = true;
      try {
        // Still inside the held transaction: the owner row goes with the lock.
        db.exec("DELETE FROM owner");
        db.exec("COMMIT");
      } catch {
        // the lock goes with the connection anyway; a stale row names a process that is gone
      } finally {
        db.close();
      }
    },
  };
}

function holdWriteLock(db: DatabaseSync, spoolPath: string, nameOwner: boolean): void {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (e) {
    const owner = nameOwner ? readOwner(db) : undefined;
    const who =
      owner === undefined
        ? "another process"
        : `process ${owner.pid} (${owner.role}, since ${new Date(owner.since).toISOString()})`;
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${spoolPath} is in use by ${who}: stop it first (${errorMessage(e)})`,
      {},
      { cause: e },
    );
  }
}

function readOwner(db: DatabaseSync): SpoolOwner | undefined {
  try {
    const row = db.prepare("SELECT pid, since, role FROM owner LIMIT 1").get();
    if (row === undefined) return undefined;
    return { pid: Number(row.pid), since: Number(row.since), role: String(row.role) };
  } catch {
    return undefined; // no owner table yet, or locked for the instant of a commit
  }
}

/**
 * The process that holds the spool now, read without taking anything: the recorded owner when
 * its process still runs. (A recorded pid whose process is gone left without a clean close.)
 */
export function currentOwner(spoolPath: string): SpoolOwner | undefined {
  const lockPath = lockPathOf(spoolPath);
  if (!existsSync(lockPath)) return undefined;
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(lockPath, { readOnly: true, timeout: 1000 });
    const owner = readOwner(db);
    return owner !== undefined && processRuns(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, under another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
