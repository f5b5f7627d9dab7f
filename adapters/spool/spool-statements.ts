/**
 * The owner's prepared statements, prepared once per open spool and reused. Fixed text only:
 * every value is a bound parameter.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

export const sampleColumns = "seq, tag, time, value, value_kind, quality, reason";
export const deadLetterColumns = "id, seq, tag, time, value, value_kind, quality, reason, sink, error, at";

/** Samples one multi-row INSERT takes: one call into SQLite per this many, not per sample. */
export const samplesPerInsert = 64;

export function prepareSpoolStatements(db: DatabaseSync) {
  return {
    // samples
    insertSample: db.prepare(
      "INSERT OR IGNORE INTO samples (tag, time, value, value_kind, quality, reason) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    insertSamples: db.prepare(
      `INSERT OR IGNORE INTO samples (tag, time, value, value_kind, quality, reason) VALUES ${Array.from(
        { length: samplesPerInsert },
        () => "(?, ?, ?, ?, ?, ?)",
      ).join(", ")}`,
    ),
    heldByKey: db.prepare(
      "SELECT seq, value, value_kind, quality, reason FROM samples WHERE tag = ? AND time = ?",
    ),
    nthOldest: db.prepare("SELECT seq FROM samples ORDER BY seq LIMIT 1 OFFSET ?"),
    readAfter: db.prepare(`SELECT ${sampleColumns} FROM samples WHERE seq > ? ORDER BY seq LIMIT ?`),
    oldestAfter: db.prepare("SELECT time FROM samples WHERE seq > ? ORDER BY seq LIMIT 1"),
    countAfter: db.prepare("SELECT count(*) AS n FROM samples WHERE seq > ?"),
    countBetween: db.prepare("SELECT count(*) AS n FROM samples WHERE seq > ? AND seq <= ?"),
    countAll: db.prepare("SELECT count(*) AS n FROM samples"),
    seqsBetween: db.prepare("SELECT seq FROM samples WHERE seq > ? AND seq <= ? ORDER BY seq"),
    deleteUpTo: db.prepare("DELETE FROM samples WHERE seq <= ?"),
    lastSeq: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'samples'"),
    // cursors
    addCursor: db.prepare("INSERT OR IGNORE INTO cursors (sink, seq) VALUES (?, 0)"),
    getCursor: db.prepare("SELECT seq FROM cursors WHERE sink = ?"),
    setCursor: db.prepare("UPDATE cursors SET seq = ? WHERE sink = ?"),
    allCursorSinks: db.prepare("SELECT sink FROM cursors ORDER BY sink"),
    deleteCursor: db.prepare("DELETE FROM cursors WHERE sink = ?"),
    // meta
    bumpMeta: db.prepare("UPDATE meta SET value = value + ? WHERE key = ?"),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
    // dead letters
    insertDeadLetter: db.prepare(
      `INSERT OR IGNORE INTO dead_letters (seq, sink, tag, time, value, value_kind, quality, reason, error, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    sameDeadLetterKept: db.prepare(
      `SELECT 1 AS found FROM dead_letters
       WHERE tag = ? AND time = ? AND sink = ? AND value IS ? AND value_kind = ? AND quality = ? LIMIT 1`,
    ),
    countDeadLetters: db.prepare("SELECT count(*) AS n FROM dead_letters"),
    deleteOldestDeadLetters: db.prepare(
      "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)",
    ),
    readDeadLetters: db.prepare(
      `SELECT ${deadLetterColumns} FROM dead_letters WHERE sink = ? ORDER BY id LIMIT ?`,
    ),
    freePages: db.prepare("PRAGMA freelist_count"),
  } satisfies Record<string, StatementSync>;
}

export type SpoolStatements = ReturnType<typeof prepareSpoolStatements>;

/** The first column of a one-row answer as a number; 0 when there is no row. */
export function numberOf(row: Record<string, unknown> | undefined, column: string): number {
  return Number(row?.[column] ?? 0);
}
