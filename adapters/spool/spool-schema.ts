/**
 * The spool file's layout and settings. Every statement is fixed text; the only
 * variable part (the `synchronous` level) is checked against its literal union first.
 */
import type { DatabaseSync } from "node:sqlite";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { SpoolSynchronous } from "../../schemas/plant-types.ts";

export const spoolSchemaVersion = 1;

/** Counters kept in `meta` so they survive restarts. */
export const MetaKey = {
  dropped: "dropped",
  deadLettered: "deadLettered",
  duplicates: "duplicates",
  schemaVersion: "schemaVersion",
} as const;
export type MetaKey = (typeof MetaKey)[keyof typeof MetaKey];

const synchronousLevels: readonly SpoolSynchronous[] = ["OFF", "NORMAL", "FULL"];

/** WAL, the configured durability, incremental vacuum for new files, a bounded WAL file. */
export function applySpoolSettings(db: DatabaseSync, synchronous: SpoolSynchronous): void {
  if (!synchronousLevels.includes(synchronous)) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool synchronous level "${String(synchronous)}" is not one of ${synchronousLevels.join(", ")}`,
    );
  }
  // auto_vacuum takes effect only before the first table exists; on an older file it is a no-op.
  db.exec("PRAGMA auto_vacuum = INCREMENTAL");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec("PRAGMA journal_size_limit = 8388608");
}

export function createSpoolTables(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS samples (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      tag TEXT NOT NULL,
      time INTEGER NOT NULL,
      value REAL,
      value_kind TEXT NOT NULL CHECK (value_kind IN ('number', 'boolean', 'null')),
      quality TEXT NOT NULL CHECK (quality IN ('good', 'bad')),
      reason TEXT,
      UNIQUE (tag, time)
    );
    CREATE TABLE IF NOT EXISTS cursors (
      sink TEXT PRIMARY KEY,
      seq INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      seq INTEGER NOT NULL,
      sink TEXT NOT NULL,
      tag TEXT NOT NULL,
      time INTEGER NOT NULL,
      value REAL,
      value_kind TEXT NOT NULL,
      quality TEXT NOT NULL,
      reason TEXT,
      error TEXT NOT NULL,
      at INTEGER NOT NULL,
      UNIQUE (sink, seq)
    );
    CREATE TABLE IF NOT EXISTS meta (
      key TEXT PRIMARY KEY,
      value INTEGER NOT NULL
    );
  `);
  const seed = db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
  seed.run(MetaKey.dropped, 0);
  seed.run(MetaKey.deadLettered, 0);
  seed.run(MetaKey.duplicates, 0);
  seed.run(MetaKey.schemaVersion, spoolSchemaVersion);
  const version = db.prepare("SELECT value FROM meta WHERE key = ?").get(MetaKey.schemaVersion);
  if (Number(version?.value) !== spoolSchemaVersion) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool file has schema version ${String(version?.value)}, this plantbridge reads version ${spoolSchemaVersion}`,
    );
  }
}
