/**
 * The spool file's layout and settings. Every statement is fixed text; the only
 * variable part (the `synchronous` level) is checked against its literal union first.
 *
 * Version 2 (this one) lets a dead letter have no sequence number: a conflict (a sample whose
 * tag and time the spool already held with another value) never got one. A version-1 file is
 * migrated in place, in one transaction, when a plantbridge process opens it for writing.
 */
import type { DatabaseSync } from "node:sqlite";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { SpoolSynchronous } from "../../schemas/plant-types.ts";

export const spoolSchemaVersion = 2;

/** The versions a read-only reader understands (their columns are the same). */
export const readableSchemaVersions: readonly number[] = [1, 2];

/** Counters kept in `meta` so they survive restarts. The table holds these keys and no others. */
export const MetaKey = {
  dropped: "dropped",
  deadLettered: "deadLettered",
  duplicates: "duplicates",
  conflicts: "conflicts",
  deadLettersDropped: "deadLettersDropped",
  deadLettersReplayed: "deadLettersReplayed",
  deadLettersPurged: "deadLettersPurged",
  schemaVersion: "schemaVersion",
} as const;
export type MetaKey = (typeof MetaKey)[keyof typeof MetaKey];

/** The sink name under which conflicts are kept in the dead-letter table (no real sink may use it). */
export const conflictSink = "conflict";

/** Largest WAL file kept after a checkpoint (bytes). */
export const walSizeLimit = 8 * 1024 * 1024;

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
  db.exec(`PRAGMA journal_size_limit = ${walSizeLimit}`);
}

const deadLettersTable = (name: string): string => `
  CREATE TABLE IF NOT EXISTS ${name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER,
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
  );`;

/** Creates what is missing, migrates a version-1 file, seeds the counters; refuses other versions. */
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
    ${deadLettersTable("dead_letters")}
    CREATE TABLE IF NOT EXISTS meta (
      key TEXT PRIMARY KEY,
      value INTEGER NOT NULL
    );
  `);
  const seed = db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
  for (const key of Object.values(MetaKey)) {
    seed.run(key, key === MetaKey.schemaVersion ? spoolSchemaVersion : 0);
  }
  const version = readSchemaVersion(db);
  if (version === 1) migrateFromVersion1(db);
  else if (version !== spoolSchemaVersion) throw unreadableVersion(version);
  db.exec(`
    CREATE INDEX IF NOT EXISTS dead_letters_by_sink ON dead_letters (sink, id);
    CREATE INDEX IF NOT EXISTS dead_letters_by_key ON dead_letters (tag, time);
  `);
}

export function readSchemaVersion(db: DatabaseSync): number {
  return Number(db.prepare("SELECT value FROM meta WHERE key = ?").get(MetaKey.schemaVersion)?.value);
}

export function unreadableVersion(version: number): PlantbridgeError {
  return new PlantbridgeError(
    ErrorCode.SPOOL,
    `spool file has schema version ${String(version)}, this plantbridge reads version ${spoolSchemaVersion}`,
  );
}

/** Version 1 had `dead_letters.seq NOT NULL`: the table is rebuilt with its rows and ids. */
function migrateFromVersion1(db: DatabaseSync): void {
  const columns = "id, seq, sink, tag, time, value, value_kind, quality, reason, error, at";
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(`
      ${deadLettersTable("dead_letters_v2")}
      INSERT INTO dead_letters_v2 (${columns}) SELECT ${columns} FROM dead_letters ORDER BY id;
      DROP TABLE dead_letters;
      ALTER TABLE dead_letters_v2 RENAME TO dead_letters;
    `);
    db.prepare("UPDATE meta SET value = ? WHERE key = ?").run(spoolSchemaVersion, MetaKey.schemaVersion);
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw e;
  }
}
