/**
 * The spool file's layout and settings. Every statement is fixed text; the only
 * variable part (the `synchronous` level) is checked against its literal union first.
 *
 * Version 2 let a dead letter have no sequence number: a conflict (a sample whose tag and time the
 * spool already held with another value) never got one. Version 3 (this one) keeps a sample's
 * identity as UNIQUE (time, tag) instead of (tag, time): the same constraint, but its index grows
 * at one end as storage cycles arrive (and shrinks at the other as sinks ack), where (tag, time)
 * put every cycle's rows into every leaf page of the index — a page written per tag per cycle.
 * Older files are migrated in place, in one transaction, when a plantbridge process opens them
 * for writing.
 */
import type { DatabaseSync } from "node:sqlite";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { SpoolSynchronous } from "../../schemas/plant-types.ts";

export const spoolSchemaVersion = 3;

/** The versions a read-only reader understands (their columns are the same). */
export const readableSchemaVersions: readonly number[] = [1, 2, 3];

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
const samplesTable = (name: string): string => `
  CREATE TABLE IF NOT EXISTS ${name} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tag TEXT NOT NULL,
    time INTEGER NOT NULL,
    value REAL,
    value_kind TEXT NOT NULL CHECK (value_kind IN ('number', 'boolean', 'null')),
    quality TEXT NOT NULL CHECK (quality IN ('good', 'bad')),
    reason TEXT,
    UNIQUE (time, tag)
  );`;

export function createSpoolTables(db: DatabaseSync): void {
  db.exec(`
    ${samplesTable("samples")}
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
  if (version !== spoolSchemaVersion && version !== 1 && version !== 2) throw unreadableVersion(version);
  if (version === 1) migrateFromVersion1(db);
  if (version === 1 || version === 2) migrateToVersion3(db);
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
    db.prepare("UPDATE meta SET value = ? WHERE key = ?").run(2, MetaKey.schemaVersion);
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw e;
  }
}

/**
 * Versions 1 and 2 had UNIQUE (tag, time): the samples table is rebuilt with UNIQUE (time, tag),
 * every row with its seq, and the sequence kept where it was (delivered rows are gone, but their
 * seqs are never given again: the cursors point at them).
 */
function migrateToVersion3(db: DatabaseSync): void {
  const columns = "seq, tag, time, value, value_kind, quality, reason";
  db.exec("BEGIN IMMEDIATE");
  try {
    const top = Number(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'samples'").get()?.seq ?? 0);
    db.exec(`
      ${samplesTable("samples_v3")}
      INSERT INTO samples_v3 (${columns}) SELECT ${columns} FROM samples ORDER BY seq;
      DROP TABLE samples;
      ALTER TABLE samples_v3 RENAME TO samples;
      DELETE FROM sqlite_sequence WHERE name IN ('samples', 'samples_v3');
    `);
    const held = Number(db.prepare("SELECT max(seq) AS top FROM samples").get()?.top ?? 0);
    db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('samples', ?)").run(Math.max(top, held));
    db.prepare("UPDATE meta SET value = ? WHERE key = ?").run(3, MetaKey.schemaVersion);
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw e;
  }
}
