/**
 * What an operator does to dead letters while the plant is stopped (`plantbridge spool replay |
 * purge`). Each takes the spool like a plant would (spool-lock.ts) — refused, naming the process,
 * while a plant has it open — and changes it in one transaction, counted in `meta`.
 */

import type { DatabaseSync } from "node:sqlite";
import type { SpoolSynchronous } from "../../schemas/plant-types.ts";
import { type DeadLetterFilter, filterCondition, filterParameters } from "./dead-letter-filter.ts";
import { giveBackSpace } from "./spool-bound.ts";
import { asSpoolError, transaction } from "./spool-errors.ts";
import { claimSpool } from "./spool-lock.ts";
import { openSpoolDatabase } from "./spool-open.ts";
import { conflictSink, MetaKey } from "./spool-schema.ts";
import { numberOf } from "./spool-statements.ts";

export interface MaintenanceOptions {
  path: string;
  /** The plant's bound: a replay never makes the spool hold more samples. */
  maxSamples: number;
  synchronous: SpoolSynchronous;
}

export interface ReplayOutcome {
  /** Dead letters put back as new pending samples (and removed from the dead-letter table). */
  replayed: number;
  /** Sequence numbers they got (absent when none). */
  firstSeq?: number;
  lastSeq?: number;
  /** Left as dead letters: the spool still holds a sample with the same tag and time. */
  stillHeld: number;
  /** Left as dead letters: the spool would have held more than maxSamples. */
  noRoom: number;
  /** Conflicts matching the other filters, left out because --sink did not name them. */
  conflictsLeft: number;
}

function withSpool<T>(options: MaintenanceOptions, role: string, work: (db: DatabaseSync) => T): T {
  const ownership = claimSpool(options.path, role);
  try {
    const db = openSpoolDatabase(options.path, options.synchronous);
    try {
      return work(db);
    } catch (e) {
      throw asSpoolError(options.path, role, e);
    } finally {
      db.close();
    }
  } finally {
    ownership.release();
  }
}

/**
 * Puts matching dead letters back into the spool as new samples (new sequence numbers: every sink
 * gets them again), oldest first, and removes them from the dead-letter table. Conflicts are left
 * out unless the filter names the `conflict` sink.
 */
export function replayDeadLetters(options: MaintenanceOptions, filter: DeadLetterFilter): ReplayOutcome {
  return withSpool(options, "spool replay", (db) =>
    transaction(db, () => {
      const skipConflicts = filter.sink !== conflictSink;
      const letters = db
        .prepare(
          `SELECT id, tag, time, value, value_kind, quality, reason FROM dead_letters WHERE ${filterCondition} ORDER BY id`,
        )
        .all(filterParameters(filter, skipConflicts));
      const insert = db.prepare(
        "INSERT OR IGNORE INTO samples (tag, time, value, value_kind, quality, reason) VALUES (?, ?, ?, ?, ?, ?)",
      );
      const remove = db.prepare("DELETE FROM dead_letters WHERE id = ?");
      let room = options.maxSamples - numberOf(db.prepare("SELECT count(*) AS n FROM samples").get(), "n");
      const outcome: ReplayOutcome = { replayed: 0, stillHeld: 0, noRoom: 0, conflictsLeft: 0 };
      for (const l of letters) {
        if (room <= 0) {
          outcome.noRoom++;
          continue;
        }
        const r = insert.run(
          l.tag ?? null,
          l.time ?? null,
          l.value ?? null,
          l.value_kind ?? null,
          l.quality ?? null,
          l.reason ?? null,
        );
        if (r.changes === 0) {
          outcome.stillHeld++;
          continue;
        }
        remove.run(l.id ?? null);
        room--;
        outcome.replayed++;
        outcome.lastSeq = Number(r.lastInsertRowid);
        outcome.firstSeq ??= outcome.lastSeq;
      }
      if (skipConflicts) {
        outcome.conflictsLeft = numberOf(
          db
            .prepare(
              `SELECT count(*) AS n FROM dead_letters WHERE ${filterCondition} AND sink = $conflictSink`,
            )
            .get(filterParameters(filter)),
          "n",
        );
      }
      db.prepare("UPDATE meta SET value = value + ? WHERE key = ?").run(
        outcome.replayed,
        MetaKey.deadLettersReplayed,
      );
      return outcome;
    }),
  );
}

/** Deletes matching dead letters (conflicts included); returns how many. */
export function purgeDeadLetters(options: MaintenanceOptions, filter: DeadLetterFilter): number {
  return withSpool(options, "spool purge", (db) => {
    const purged = transaction(db, () => {
      const n = Number(
        db.prepare(`DELETE FROM dead_letters WHERE ${filterCondition}`).run(filterParameters(filter)).changes,
      );
      db.prepare("UPDATE meta SET value = value + ? WHERE key = ?").run(n, MetaKey.deadLettersPurged);
      return n;
    });
    giveBackSpace(db);
    return purged;
  });
}
