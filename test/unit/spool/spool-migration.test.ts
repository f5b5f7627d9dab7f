/**
 * A spool file written by the previous layout (schema version 1: a dead letter always had a seq)
 * is read as it is by the read-only commands, and migrated in place, keeping every sample, cursor,
 * counter and dead letter, when a plant opens it.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpoolReader } from "../../../adapters/spool/spool-report.ts";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir, t0 } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let path: string;

beforeEach(() => {
  folder = makeTestDir("spool-migration");
  path = join(folder.dir, "spool.sqlite");
});
afterEach(() => folder.remove());

/** The version-1 layout as the previous plantbridge wrote it, with a little content. */
function writeVersion1File(): void {
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE samples (seq INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL, time INTEGER NOT NULL,
      value REAL, value_kind TEXT NOT NULL CHECK (value_kind IN ('number', 'boolean', 'null')),
      quality TEXT NOT NULL CHECK (quality IN ('good', 'bad')), reason TEXT, UNIQUE (tag, time));
    CREATE TABLE cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, sink TEXT NOT NULL,
      tag TEXT NOT NULL, time INTEGER NOT NULL, value REAL, value_kind TEXT NOT NULL, quality TEXT NOT NULL,
      reason TEXT, error TEXT NOT NULL, at INTEGER NOT NULL, UNIQUE (sink, seq));
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta VALUES ('dropped', 7), ('deadLettered', 2), ('duplicates', 3), ('schemaVersion', 1);
    INSERT INTO samples (tag, time, value, value_kind, quality) VALUES
      ('PEMEL.a', ${t0}, 1, 'number', 'good'), ('PEMEL.b', ${t0}, 1, 'boolean', 'good'),
      ('PEMEL.a', ${t0 + 1000}, 2, 'number', 'good');
    INSERT INTO cursors VALUES ('postgres', 1);
    INSERT INTO dead_letters (seq, sink, tag, time, value, value_kind, quality, reason, error, at) VALUES
      (10, 'postgres', 'PEMEL.c', ${t0}, NULL, 'null', 'bad', 'Timeout', 'refused', 5),
      (11, 'postgres', 'PEMEL.d', ${t0}, 0, 'boolean', 'good', NULL, 'refused', 6);
  `);
  db.close();
}

describe("spool schema migration", () => {
  it("reads a version-1 file read-only without changing it", () => {
    writeVersion1File();
    const reader = openSpoolReader(path);
    try {
      expect(reader.report()).toMatchObject({
        schemaVersion: 1,
        held: 3,
        sinks: [{ sink: "postgres", cursor: 1, pending: 2 }],
        counters: { dropped: 7, deadLettered: 2, duplicates: 3, conflicts: 0 },
        deadLetters: { held: 2, bySink: { postgres: 2 } },
      });
      expect(reader.deadLetters({}, 10).map((l) => [l.id, l.seq, l.tag, l.value, l.reason])).toEqual([
        [1, 10, "PEMEL.c", null, "Timeout"],
        [2, 11, "PEMEL.d", false, undefined],
      ]);
    } finally {
      reader.close();
    }
  });

  it("migrates a version-1 file when a plant opens it, keeping everything", () => {
    writeVersion1File();
    const s = openSpool({
      path,
      sinks: ["postgres"],
      maxSamples: 100,
      synchronous: "NORMAL",
      log: silentLog(),
    });
    try {
      expect(s.stats()).toEqual({
        pending: { postgres: 2 },
        held: 2,
        dropped: 7,
        deadLettered: 2,
        duplicates: 3,
        conflicts: 0,
        deadLettersDropped: 0,
        deadLetters: 2,
      });
      expect(s.readDeadLetters("postgres", 10).map((l) => [l.id, l.seq, l.error, l.at])).toEqual([
        [1, 10, "refused", 5],
        [2, 11, "refused", 6],
      ]);
      // A conflict (no seq) now fits the table.
      s.append([{ tag: "PEMEL.a", time: t0 + 1000, value: 3, quality: "good" }]);
      expect(s.readDeadLetters("conflict", 10).map((l) => [l.id, l.seq])).toEqual([[3, null]]);
      expect(s.readBatch("postgres", 10).map((b) => b.seq)).toEqual([2, 3]);
    } finally {
      s.close();
    }
    const raw = new DatabaseSync(path, { readOnly: true });
    try {
      expect(raw.prepare("SELECT value FROM meta WHERE key = 'schemaVersion'").get()?.value).toBe(3);
    } finally {
      raw.close();
    }
  });

  it("rebuilds the samples of a version-2 file with UNIQUE (time, tag), keeping every seq and the sequence", () => {
    writeVersion1File();
    // As version 2 left it: everything up to seq 3 delivered and deleted, the sequence at 3.
    const db = new DatabaseSync(path);
    db.exec(
      "UPDATE meta SET value = 2 WHERE key = 'schemaVersion'; UPDATE cursors SET seq = 3; DELETE FROM samples",
    );
    db.exec(
      `INSERT INTO samples (seq, tag, time, value, value_kind, quality) VALUES (7, 'PEMEL.a', ${t0 + 5000}, 5, 'number', 'good')`,
    );
    db.exec("UPDATE cursors SET seq = 3");
    db.close();
    const s = openSpool({
      path,
      sinks: ["postgres"],
      maxSamples: 100,
      synchronous: "NORMAL",
      log: silentLog(),
    });
    try {
      expect(s.readBatch("postgres", 10).map((b) => [b.seq, b.tag, b.value])).toEqual([[7, "PEMEL.a", 5]]);
      // The next sample continues the sequence; a held (tag, time) is still one identity.
      expect(s.append([{ tag: "PEMEL.b", time: t0 + 5000, value: 1, quality: "good" }])).toBe(8);
      s.append([{ tag: "PEMEL.a", time: t0 + 5000, value: 5, quality: "good" }]);
      expect(s.stats()).toMatchObject({ held: 2, duplicates: 4, pending: { postgres: 2 } });
    } finally {
      s.close();
    }
    const raw = new DatabaseSync(path, { readOnly: true });
    try {
      expect(raw.prepare("SELECT value FROM meta WHERE key = 'schemaVersion'").get()?.value).toBe(3);
      const index = raw.prepare("SELECT name FROM pragma_index_list('samples') WHERE \"unique\" = 1").get();
      const columns = raw
        .prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
        .all(String(index?.name))
        .map((c) => c.name);
      expect(columns).toEqual(["time", "tag"]);
    } finally {
      raw.close();
    }
  });

  it("refuses a file of a newer version, read-only or not", () => {
    writeVersion1File();
    const db = new DatabaseSync(path);
    db.exec("UPDATE meta SET value = 9 WHERE key = 'schemaVersion'");
    db.close();
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isPlantbridgeError(e, ErrorCode.SPOOL) ? e.message : String(e);
      }
      return "opened";
    };
    expect(codeOf(() => openSpoolReader(path))).toMatch(/schema version 9/);
    expect(
      codeOf(() =>
        openSpool({ path, sinks: ["postgres"], maxSamples: 100, synchronous: "NORMAL", log: silentLog() }),
      ),
    ).toMatch(/schema version 9/);
  });
});
