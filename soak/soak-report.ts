/**
 * What a soak run kept, counted after the plant stopped: every sample storage took must be in the
 * historian, or in the spool (a dead letter with its reason: a conflict after a wall-clock step, a
 * row the database refused; or still pending). Anything else is lost; anything more is duplicated.
 */
import { createPool, sql } from "slonik";
import { z } from "zod";
import { openSpoolReader } from "../adapters/spool/spool-report.ts";

const badRow = z.object({ reason: z.string().nullable(), n: z.number() });
const totals = z.object({ rows: z.number(), bad: z.number() });

export interface HistorianTally {
  rows: number;
  bad: number;
  /** Bad samples by reason, numbers left out (`PEMEL: no reply to read holding # within # ms`). */
  badByReason: Record<string, number>;
}

/** The reason without its row-specific numbers, so that reasons of one kind add up. */
export function reasonKind(reason: string | null): string {
  if (reason === null) return "(none)";
  return reason
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>")
    .replace(/\d+(\.\d+)?/g, "#")
    .slice(0, 160);
}

export async function tallyHistorian(url: string, schema: string): Promise<HistorianTally> {
  const pool = await createPool(url, { maximumPoolSize: 1 });
  try {
    const samples = sql.identifier([schema, "samples"]);
    const sums = await pool.one(sql.type(totals)`
      SELECT count(*)::int AS rows, count(*) FILTER (WHERE quality <> 0)::int AS bad FROM ${samples}`);
    const reasons = await pool.any(sql.type(badRow)`
      SELECT reason, count(*)::int AS n FROM ${samples} WHERE quality <> 0 GROUP BY reason`);
    const badByReason: Record<string, number> = {};
    for (const r of reasons) {
      const kind = reasonKind(r.reason);
      badByReason[kind] = (badByReason[kind] ?? 0) + r.n;
    }
    return { rows: sums.rows, bad: sums.bad, badByReason };
  } finally {
    await pool.end();
  }
}

export interface SpoolTally {
  pending: number;
  deadLetters: number;
  deadLettersBySink: Record<string, number>;
  dropped: number;
  deadLettersDropped: number;
  duplicates: number;
  conflicts: number;
  fileBytes: number;
}

export function tallySpool(path: string): SpoolTally {
  const reader = openSpoolReader(path);
  try {
    const report = reader.report(10);
    return {
      pending: report.sinks.reduce((n, s) => n + s.pending, 0),
      deadLetters: report.deadLetters.held,
      deadLettersBySink: report.deadLetters.bySink,
      dropped: report.counters.dropped,
      deadLettersDropped: report.counters.deadLettersDropped,
      duplicates: report.counters.duplicates,
      conflicts: report.counters.conflicts,
      fileBytes: report.fileBytes,
    };
  } finally {
    reader.close();
  }
}

export interface SampleAccount {
  /** Samples storage took. */
  taken: number;
  /** Samples the forwarder wrote to the historian, or found there already with the same value. */
  delivered: number;
  /** Rows in the historian. */
  inHistorian: number;
  /** Samples the spool kept as dead letters (conflicts after a clock step, rows the database refused). */
  deadLettered: number;
  /** Samples still pending in the spool. */
  pending: number;
  /** Samples the spool already held, identical (same tag, time, value, quality): nothing new to keep. */
  identicalInSpool: number;
  lost: number;
  duplicated: number;
}

/**
 * Every taken sample ends in exactly one of these: ignored by the spool as identical to one it
 * held, kept there as a dead letter (a conflict, or refused by the database), still pending, or
 * delivered (written, or found in the historian with the same value — after a clock step, or a
 * batch retried after its commit went unconfirmed). What is in none of them is lost. A historian row
 * that no delivery accounts for is duplicated.
 */
export function accountSamples(
  taken: number,
  delivered: number,
  historian: HistorianTally,
  spool: SpoolTally,
): SampleAccount {
  const kept = delivered + spool.deadLetters + spool.pending + spool.duplicates;
  return {
    taken,
    delivered,
    inHistorian: historian.rows,
    deadLettered: spool.deadLetters,
    pending: spool.pending,
    identicalInSpool: spool.duplicates,
    lost: Math.max(0, taken - kept),
    duplicated: Math.max(0, historian.rows - delivered) + Math.max(0, kept - taken),
  };
}
