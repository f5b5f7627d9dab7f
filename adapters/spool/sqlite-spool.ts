/**
 * The store-and-forward spool on Node's built-in node:sqlite (WAL).
 *
 * Samples enter in append order and get a sequence number that is never reused
 * (AUTOINCREMENT). Each sink has its own delivery cursor; a sample leaves the file once
 * every configured sink has acknowledged it. A sample appended twice (same tag and time,
 * e.g. a re-run cycle) is kept once and counted as a duplicate. The file is bounded: past
 * `maxSamples` the oldest samples are dropped, counted and logged — never silently. A dropped
 * sample a sink was writing at that moment is taken back out of the count when the sink acks it.
 *
 * Delivery is at-least-once: a crash between a sink's write and its `ack` delivers the
 * same samples again, and the sinks are idempotent on (tag, time).
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ErrorCode, errorMessage, isPlantbridgeError, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { SpoolSynchronous } from "../../schemas/plant-types.ts";
import type { Sample, Spool, SpooledSample, SpoolStats } from "../types.ts";
import { checkSample, decodeSample, encodeValue } from "./spool-rows.ts";
import { applySpoolSettings, createSpoolTables, MetaKey } from "./spool-schema.ts";

export interface SpoolOptions {
  /** The SQLite file; its folder is created when missing. */
  path: string;
  /** The sinks that drain this spool, each with its own cursor. */
  sinks: readonly string[];
  /** Most samples held; past it the oldest are dropped (counted, logged). */
  maxSamples: number;
  synchronous: SpoolSynchronous;
  log: Log;
}

export interface SqliteSpoolStats extends SpoolStats {
  /** Appended samples ignored because the spool already held one with the same tag and time. */
  duplicates: number;
}

/** A sample a sink refused, as kept in the dead-letter table. */
export interface DeadLetter extends SpooledSample {
  sink: string;
  /** The sink's reason for refusing it. */
  error: string;
  /** Epoch ms when it was dead-lettered. */
  at: number;
}

export interface SqliteSpool extends Spool {
  readonly path: string;
  stats(): SqliteSpoolStats;
  /** Time (epoch ms) of the oldest sample the sink has not acknowledged; null when it has them all. Reads only. */
  oldestPendingTime(sink: string): number | null;
  /** Dead letters of one sink, oldest first. */
  readDeadLetters(sink: string, limit: number): DeadLetter[];
}

/** Free pages above which an ack gives disk space back (4 KiB pages: 4 MiB). */
const vacuumAbovePages = 1024;

const sampleColumns = "seq, tag, time, value, value_kind, quality, reason";

export function openSpool(options: SpoolOptions): SqliteSpool {
  const { path, log } = options;
  const sinks = [...new Set(options.sinks)];
  if (sinks.length === 0 || sinks.length !== options.sinks.length || sinks.some((s) => s.length === 0)) {
    throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: sinks must be distinct non-empty names`);
  }
  if (!Number.isSafeInteger(options.maxSamples) || options.maxSamples < 1) {
    throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: maxSamples must be a whole number >= 1`);
  }
  const maxSamples = options.maxSamples;

  let db: DatabaseSync;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new DatabaseSync(path, { timeout: 5_000 });
  } catch (e) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${path}: cannot open: ${errorMessage(e)}`,
      {},
      { cause: e },
    );
  }
  try {
    applySpoolSettings(db, options.synchronous);
    createSpoolTables(db);
  } catch (e) {
    db.close();
    throw asSpoolError(path, "open", e);
  }

  const st = {
    insert: db.prepare(
      "INSERT OR IGNORE INTO samples (tag, time, value, value_kind, quality, reason) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    nthOldest: db.prepare("SELECT seq FROM samples ORDER BY seq LIMIT 1 OFFSET ?"),
    readAfter: db.prepare(`SELECT ${sampleColumns} FROM samples WHERE seq > ? ORDER BY seq LIMIT ?`),
    oldestAfter: db.prepare("SELECT time FROM samples WHERE seq > ? ORDER BY seq LIMIT 1"),
    countAfter: db.prepare("SELECT count(*) AS n FROM samples WHERE seq > ?"),
    countBetween: db.prepare("SELECT count(*) AS n FROM samples WHERE seq > ? AND seq <= ?"),
    countAll: db.prepare("SELECT count(*) AS n FROM samples"),
    seqsBetween: db.prepare("SELECT seq FROM samples WHERE seq > ? AND seq <= ? ORDER BY seq"),
    deleteUpTo: db.prepare("DELETE FROM samples WHERE seq <= ?"),
    setCursor: db.prepare("UPDATE cursors SET seq = ? WHERE sink = ?"),
    addCursor: db.prepare("INSERT OR IGNORE INTO cursors (sink, seq) VALUES (?, 0)"),
    getCursor: db.prepare("SELECT seq FROM cursors WHERE sink = ?"),
    bumpMeta: db.prepare("UPDATE meta SET value = value + ? WHERE key = ?"),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
    lastSeq: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'samples'"),
    deadLetter: db.prepare(
      `INSERT OR IGNORE INTO dead_letters (seq, sink, tag, time, value, value_kind, quality, reason, error, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    readDeadLetters: db.prepare(
      `SELECT ${sampleColumns}, sink, error, at FROM dead_letters WHERE sink = ? ORDER BY seq LIMIT ?`,
    ),
    freePages: db.prepare("PRAGMA freelist_count"),
  } satisfies Record<string, StatementSync>;

  const meta = (key: MetaKey): number => Number(st.getMeta.get(key)?.value ?? 0);

  // In-memory mirror of what only this process writes; updated after each commit.
  const cursors = new Map<string, number>();
  /** Held samples after each sink's cursor: kept exact on every change, so stats() costs nothing. */
  const pending = new Map<string, number>();
  let held = 0;
  let lastSeq = 0;
  let dropped = 0;
  let deadLettered = 0;
  let duplicates = 0;
  let closed = false;
  /** Per sink: the highest seq the last readBatch handed out (in flight until acked or read again). */
  const handedOut = new Map<string, number>();
  /**
   * Samples the full spool deleted while they were on their way to every sink that lacked them
   * (handed out by readBatch, not yet acked), with the sinks that still owe the ack. They are
   * counted as dropped when deleted (a crash or a failed write loses them); when every one of those
   * sinks acks them after all, the write that carried them succeeded and the count is taken back.
   */
  const droppedInFlight = new Map<number, Set<string>>();

  try {
    transaction(db, () => {
      for (const sink of sinks) st.addCursor.run(sink);
    });
    for (const sink of sinks) cursors.set(sink, Number(st.getCursor.get(sink)?.seq ?? 0));
    lastSeq = Number(st.lastSeq.get()?.seq ?? 0);
    dropped = meta(MetaKey.dropped);
    deadLettered = meta(MetaKey.deadLettered);
    duplicates = meta(MetaKey.duplicates);
    // Samples every configured sink has acked (e.g. a sink left the config) can go now.
    st.deleteUpTo.run(minCursor());
    held = Number(st.countAll.get()?.n ?? 0);
    for (const [sink, cursor] of cursors) pending.set(sink, Number(st.countAfter.get(cursor)?.n ?? 0));
  } catch (e) {
    db.close();
    throw asSpoolError(path, "open", e);
  }
  log.info({ spool: path, held, lastSeq, sinks, dropped, deadLettered }, "spool open");

  function minCursor(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const seq of cursors.values()) min = Math.min(min, seq);
    return min;
  }

  function usable(op: string): void {
    if (closed) throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: ${op} after close`);
  }

  function knownSink(sink: string, op: string): number {
    const cursor = cursors.get(sink);
    if (cursor === undefined) {
      throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: ${op} for unknown sink "${sink}"`);
    }
    return cursor;
  }

  /**
   * Moves a cursor forward (never back) and deletes what every sink has acked; runs inside the
   * caller's transaction. Returns what to mirror in memory after the commit.
   */
  function advance(sink: string, seq: number): { cursor: number; delivered: number; deleted: number } {
    const from = knownSink(sink, "ack");
    const cursor = Math.max(from, seq);
    if (cursor === from) return { cursor, delivered: 0, deleted: 0 };
    const delivered = Number(st.countBetween.get(from, cursor)?.n ?? 0);
    st.setCursor.run(cursor, sink);
    let min = cursor;
    for (const [other, at] of cursors) if (other !== sink) min = Math.min(min, at);
    // Rows at or below every cursor are no one's pending: deleting them changes only `held`.
    const deleted = Number(st.deleteUpTo.run(min).changes);
    return { cursor, delivered, deleted };
  }

  /**
   * Deletes the `count` oldest samples, delivered or not; runs inside the caller's transaction.
   * Returns how many went and how many of them each sink had not received yet.
   */
  function dropOldest(count: number): {
    gone: number;
    undelivered: Map<string, number>;
    inFlight: Map<number, Set<string>>;
  } {
    const undelivered = new Map<string, number>();
    const inFlight = new Map<number, Set<string>>();
    const last = st.nthOldest.get(count - 1)?.seq;
    if (last === undefined || last === null) return { gone: 0, undelivered, inFlight };
    for (const [sink, cursor] of cursors) {
      undelivered.set(sink, Number(st.countBetween.get(cursor, Number(last))?.n ?? 0));
    }
    // Of the samples going, those every lacking sink has in hand may still arrive.
    let topInFlight = 0;
    for (const [sink, cursor] of cursors) {
      const top = handedOut.get(sink) ?? 0;
      if (top > cursor) topInFlight = Math.max(topInFlight, top);
    }
    if (topInFlight > 0) {
      for (const row of st.seqsBetween.all(minCursor(), Math.min(Number(last), topInFlight))) {
        const seq = Number(row.seq);
        const owing = new Set<string>();
        let reachable = true;
        for (const [sink, cursor] of cursors) {
          if (cursor >= seq) continue;
          if ((handedOut.get(sink) ?? 0) >= seq) owing.add(sink);
          else reachable = false;
        }
        if (reachable && owing.size > 0) inFlight.set(seq, owing);
      }
    }
    return { gone: Number(st.deleteUpTo.run(Number(last)).changes), undelivered, inFlight };
  }

  /** Samples dropped while in flight that this ack shows delivered after all (nothing changes yet). */
  function rescuedBy(sink: string, cursor: number): number {
    let rescued = 0;
    for (const [seq, owing] of droppedInFlight) {
      if (seq <= cursor && owing.has(sink) && owing.size === 1) rescued++;
    }
    return rescued;
  }

  /** After the commit: the sink has everything up to `cursor`; forget what no one owes any more. */
  function settleInFlight(sink: string, cursor: number): void {
    for (const [seq, owing] of droppedInFlight) {
      if (seq > cursor || !owing.delete(sink)) continue;
      if (owing.size === 0) droppedInFlight.delete(seq);
    }
  }

  /** The sink reads again from its cursor: what it had in hand and was deleted can never reach it. */
  function abandonInFlight(sink: string): void {
    for (const [seq, owing] of droppedInFlight) if (owing.has(sink)) droppedInFlight.delete(seq);
  }

  function logRescued(sink: string, rescued: number): void {
    if (rescued === 0) return;
    log.info(
      { spool: path, sink, rescued, droppedTotal: dropped },
      `${rescued} samples counted as dropped reached sink ${sink} after all (they were on their way when the spool was full)`,
    );
  }

  function mirrorAdvance(sink: string, moved: { cursor: number; delivered: number; deleted: number }): void {
    cursors.set(sink, moved.cursor);
    pending.set(sink, (pending.get(sink) ?? 0) - moved.delivered);
    held -= moved.deleted;
  }

  function giveBackSpace(): void {
    if (Number(st.freePages.get()?.freelist_count ?? 0) > vacuumAbovePages) {
      db.exec("PRAGMA incremental_vacuum");
    }
  }

  return {
    path,

    append(samples: readonly Sample[]): number {
      usable("append");
      for (const sample of samples) checkSample(sample);
      if (samples.length === 0) return lastSeq;
      try {
        const result = transaction(db, () => {
          let inserted = 0;
          let last = lastSeq;
          for (const s of samples) {
            const v = encodeValue(s.value);
            const r = st.insert.run(s.tag, s.time, v.value, v.kind, s.quality, s.reason ?? null);
            if (r.changes > 0) {
              inserted++;
              last = Number(r.lastInsertRowid);
            }
          }
          const dup = samples.length - inserted;
          if (dup > 0) st.bumpMeta.run(dup, MetaKey.duplicates);
          const over = held + inserted - maxSamples;
          const { gone, undelivered, inFlight } =
            over > 0 ? dropOldest(over) : { gone: 0, undelivered: new Map(), inFlight: new Map() };
          if (gone > 0) st.bumpMeta.run(gone, MetaKey.dropped);
          return { inserted, last, dup, gone, undelivered, inFlight };
        });
        for (const [seq, owing] of result.inFlight) droppedInFlight.set(seq, owing);
        held += result.inserted - result.gone;
        for (const [sink, count] of pending) {
          pending.set(sink, count + result.inserted - (result.undelivered.get(sink) ?? 0));
        }
        lastSeq = result.last;
        duplicates += result.dup;
        dropped += result.gone;
        if (result.dup > 0) {
          log.debug({ spool: path, duplicates: result.dup }, "spool ignored samples it already held");
        }
        if (result.gone > 0) {
          log.warn(
            { spool: path, dropped: result.gone, droppedTotal: dropped, held, maxSamples },
            `spool full: dropped the ${result.gone} oldest samples`,
          );
        }
        return lastSeq;
      } catch (e) {
        throw asSpoolError(path, "append", e);
      }
    },

    readBatch(sink: string, limit: number): SpooledSample[] {
      usable("readBatch");
      const cursor = knownSink(sink, "readBatch");
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: batch limit must be a whole number >= 1`);
      }
      try {
        const batch = st.readAfter.all(cursor, limit).map(decodeSample);
        abandonInFlight(sink);
        handedOut.set(sink, batch.at(-1)?.seq ?? cursor);
        return batch;
      } catch (e) {
        throw asSpoolError(path, "readBatch", e);
      }
    },

    ack(sink: string, seq: number): void {
      usable("ack");
      knownSink(sink, "ack");
      if (!Number.isSafeInteger(seq) || seq < 0 || seq > lastSeq) {
        throw new PlantbridgeError(
          ErrorCode.SPOOL,
          `spool ${path}: sink "${sink}" acked seq ${seq}, the spool has handed out up to ${lastSeq}`,
        );
      }
      try {
        const { moved, rescued } = transaction(db, () => {
          const moved = advance(sink, seq);
          const rescued = rescuedBy(sink, moved.cursor);
          if (rescued > 0) st.bumpMeta.run(-rescued, MetaKey.dropped);
          return { moved, rescued };
        });
        mirrorAdvance(sink, moved);
        settleInFlight(sink, moved.cursor);
        dropped -= rescued;
        logRescued(sink, rescued);
        if (moved.deleted > 0) giveBackSpace();
      } catch (e) {
        throw asSpoolError(path, "ack", e);
      }
    },

    deadLetter(sink: string, samples: readonly SpooledSample[], reason: string): void {
      usable("deadLetter");
      knownSink(sink, "deadLetter");
      if (samples.length === 0) return;
      let top = 0;
      for (const s of samples) top = Math.max(top, s.seq);
      if (!Number.isSafeInteger(top) || top > lastSeq) {
        throw new PlantbridgeError(
          ErrorCode.SPOOL,
          `spool ${path}: dead letter seq ${top} beyond the spool's last seq ${lastSeq}`,
        );
      }
      const at = Date.now();
      try {
        const result = transaction(db, () => {
          let kept = 0;
          for (const s of samples) {
            const v = encodeValue(s.value);
            const r = st.deadLetter.run(
              s.seq,
              sink,
              s.tag,
              s.time,
              v.value,
              v.kind,
              s.quality,
              s.reason ?? null,
              reason,
              at,
            );
            kept += Number(r.changes);
          }
          if (kept > 0) st.bumpMeta.run(kept, MetaKey.deadLettered);
          const moved = advance(sink, top);
          // The refused samples are kept as dead letters: dropped in flight, they are not lost either.
          const rescued = rescuedBy(sink, moved.cursor);
          if (rescued > 0) st.bumpMeta.run(-rescued, MetaKey.dropped);
          return { kept, moved, rescued };
        });
        mirrorAdvance(sink, result.moved);
        settleInFlight(sink, result.moved.cursor);
        dropped -= result.rescued;
        logRescued(sink, result.rescued);
        deadLettered += result.kept;
        log.warn(
          { spool: path, sink, deadLettered: result.kept, firstSeq: samples[0]?.seq, reason },
          `sink ${sink} refused ${samples.length} samples: kept as dead letters`,
        );
      } catch (e) {
        throw asSpoolError(path, "deadLetter", e);
      }
    },

    readDeadLetters(sink: string, limit: number): DeadLetter[] {
      usable("readDeadLetters");
      try {
        return st.readDeadLetters.all(sink, limit).map((row) => ({
          ...decodeSample(row),
          sink: String(row.sink),
          error: String(row.error),
          at: Number(row.at),
        }));
      } catch (e) {
        throw asSpoolError(path, "readDeadLetters", e);
      }
    },

    stats(): SqliteSpoolStats {
      usable("stats");
      return { pending: Object.fromEntries(pending), held, dropped, deadLettered, duplicates };
    },

    oldestPendingTime(sink: string): number | null {
      usable("oldestPendingTime");
      const cursor = knownSink(sink, "oldestPendingTime");
      try {
        const row = st.oldestAfter.get(cursor);
        return row === undefined ? null : Number(row.time);
      } catch (e) {
        throw asSpoolError(path, "oldestPendingTime", e);
      }
    },

    close(): void {
      if (closed) return;
      closed = true;
      try {
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } catch (e) {
        log.warn({ spool: path, err: errorMessage(e) }, "spool checkpoint at close failed");
      }
      db.close();
      log.info({ spool: path, held }, "spool closed");
    },
  };
}

/** Runs `work` in one IMMEDIATE transaction: all of it or nothing. */
function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw e;
  }
}

function asSpoolError(path: string, op: string, e: unknown): PlantbridgeError {
  if (isPlantbridgeError(e)) return e;
  return new PlantbridgeError(
    ErrorCode.SPOOL,
    `spool ${path}: ${op} failed: ${errorMessage(e)}`,
    {},
    { cause: e },
  );
}
