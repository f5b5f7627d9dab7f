/**
 * A spool file seen from outside, read-only: what `plantbridge spool status` and `dead-letters`
 * show. It opens the file read-only and reads in one read transaction (a consistent snapshot even
 * while a plant appends), so it may run at any time, beside a running plant.
 */
import { existsSync, statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import {
  type DeadLetterFilter,
  filterCondition,
  filterParameters,
  reasonClass,
} from "./dead-letter-filter.ts";
import { type DeadLetter, decodeDeadLetter } from "./dead-letters.ts";
import { asSpoolError } from "./spool-errors.ts";
import { currentOwner, type SpoolOwner } from "./spool-lock.ts";
import { MetaKey, readableSchemaVersions, readSchemaVersion, unreadableVersion } from "./spool-schema.ts";
import { deadLetterColumns, numberOf } from "./spool-statements.ts";

export interface SinkReport {
  sink: string;
  /** Everything up to this seq is delivered. */
  cursor: number;
  pending: number;
  /** Epoch ms of the oldest and newest pending sample (by sample time); absent when none. */
  oldest?: number;
  newest?: number;
}

export interface SpoolReport {
  path: string;
  /** The file and its WAL, bytes. */
  fileBytes: number;
  schemaVersion: number;
  /** The process that has the spool open now, if any. */
  owner?: SpoolOwner;
  held: number;
  lastSeq: number;
  sinks: SinkReport[];
  counters: Record<Exclude<MetaKey, "schemaVersion">, number>;
  deadLetters: {
    held: number;
    bySink: Record<string, number>;
    /** The most frequent reasons (row-specific detail left off), most first. */
    topReasons: { reason: string; count: number }[];
  };
}

export interface SpoolReader {
  report(topReasons?: number): SpoolReport;
  /** Dead letters matching `filter`, oldest first. */
  deadLetters(filter: DeadLetterFilter, limit: number): DeadLetter[];
  /** How many dead letters match `filter`. */
  countDeadLetters(filter: DeadLetterFilter): number;
  close(): void;
}

/** Opens `path` read-only; PB_ERR_SPOOL when it does not exist or is no spool this reads. */
export function openSpoolReader(path: string): SpoolReader {
  if (!existsSync(path)) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${path} does not exist (no plant has run with this file and var folder)`,
    );
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true, timeout: 5_000 });
  } catch (e) {
    throw asSpoolError(path, "open read-only", e);
  }
  const snapshot = <T>(op: string, work: () => T): T => {
    try {
      db.exec("BEGIN");
      try {
        return work();
      } finally {
        db.exec("COMMIT");
      }
    } catch (e) {
      throw asSpoolError(path, op, e);
    }
  };
  try {
    const version = snapshot("open read-only", () => readSchemaVersion(db));
    if (!readableSchemaVersions.includes(version)) throw unreadableVersion(version);
  } catch (e) {
    db.close();
    throw e;
  }
  return {
    report: (top = 5) => snapshot("status", () => readReport(db, path, top)),
    deadLetters: (filter, limit) =>
      snapshot("dead-letters", () =>
        db
          .prepare(
            `SELECT ${deadLetterColumns} FROM dead_letters WHERE ${filterCondition} ORDER BY id LIMIT $limit`,
          )
          .all({ ...filterParameters(filter), limit })
          .map(decodeDeadLetter),
      ),
    countDeadLetters: (filter) =>
      snapshot("dead-letters", () =>
        numberOf(
          db
            .prepare(`SELECT count(*) AS n FROM dead_letters WHERE ${filterCondition}`)
            .get(filterParameters(filter)),
          "n",
        ),
      ),
    close: () => db.close(),
  };
}

function readReport(db: DatabaseSync, path: string, top: number): SpoolReport {
  const meta = new Map(
    db
      .prepare("SELECT key, value FROM meta")
      .all()
      .map((r) => [String(r.key), Number(r.value)]),
  );
  const counter = (key: MetaKey) => meta.get(key) ?? 0;
  const sinks = db
    .prepare("SELECT sink, seq FROM cursors ORDER BY sink")
    .all()
    .map((row): SinkReport => {
      const cursor = Number(row.seq);
      const p = db
        .prepare("SELECT count(*) AS n, min(time) AS oldest, max(time) AS newest FROM samples WHERE seq > ?")
        .get(cursor);
      const pending = numberOf(p, "n");
      return {
        sink: String(row.sink),
        cursor,
        pending,
        ...(pending > 0 ? { oldest: Number(p?.oldest), newest: Number(p?.newest) } : {}),
      };
    });
  const bySink: Record<string, number> = {};
  const reasons = new Map<string, number>();
  for (const row of db
    .prepare("SELECT sink, error, count(*) AS n FROM dead_letters GROUP BY sink, error")
    .all()) {
    const sink = String(row.sink);
    const n = Number(row.n);
    bySink[sink] = (bySink[sink] ?? 0) + n;
    const reason = `${sink}: ${reasonClass(sink, String(row.error))}`;
    reasons.set(reason, (reasons.get(reason) ?? 0) + n);
  }
  const owner = currentOwner(path);
  return {
    path,
    fileBytes: sizeOf(path) + sizeOf(`${path}-wal`),
    schemaVersion: counter(MetaKey.schemaVersion),
    ...(owner ? { owner } : {}),
    held: numberOf(db.prepare("SELECT count(*) AS n FROM samples").get(), "n"),
    lastSeq: numberOf(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'samples'").get(), "seq"),
    sinks,
    counters: {
      dropped: counter(MetaKey.dropped),
      duplicates: counter(MetaKey.duplicates),
      conflicts: counter(MetaKey.conflicts),
      deadLettered: counter(MetaKey.deadLettered),
      deadLettersDropped: counter(MetaKey.deadLettersDropped),
      deadLettersReplayed: counter(MetaKey.deadLettersReplayed),
      deadLettersPurged: counter(MetaKey.deadLettersPurged),
    },
    deadLetters: {
      held: Object.values(bySink).reduce((a, b) => a + b, 0),
      bySink,
      topReasons: [...reasons]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
        .slice(0, top),
    },
  };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
