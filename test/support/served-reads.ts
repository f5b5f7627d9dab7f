/**
 * Stored PEMEL records held against the storage reads PEMEL served, by design tolerant of a
 * loaded machine and strict about everything else.
 *
 * A storage cycle waits for each unit until its deadline. On a busy machine the event loop can
 * stall past it while PEMEL's answer is already on its way (or still queued in the simulator of
 * the same process): the cycle stores PEMEL bad ("PEMEL did not answer within the storage deadline
 * (N ms)", counted in the storage health's `lateUnits`), and the read PEMEL serves for it reaches
 * nobody. So a served read is either
 *  - the record of exactly one good cycle: a storage read served between that cycle's time and the
 *    next stored cycle's (cycles never overlap, a cycle's read is sent after its slot) whose
 *    registers the record holds, or
 *  - answered too late for a cycle stored bad with a reason that says so (the storage deadline,
 *    or the link's own timeout): at most one such read per such cycle, served after that cycle.
 * Anything else — a good record no served read explains, a served read no late cycle explains —
 * is reported.
 */
import type { ServedRead } from "../../simulators/pemel/index.ts";
import { pemelStatusBits, pemelValueTags } from "./historian-faults.ts";

/** The reason a storage cycle gives the samples of a unit it stopped waiting for. */
export const deadlineReason = /did not answer within the storage deadline \(\d+ ms\)$/;

/**
 * A cycle's stamp is its slot's wall time rounded to the period's grid, a read's time the
 * simulator's Date.now() (whole ms): a read served right at its slot can be stamped up to a
 * millisecond before the cycle. Windows open this much early.
 */
const stampSlackMs = 5;

/** One stored cycle: tag → its sample. */
export type StoredRecord = ReadonlyMap<
  string,
  { value: number | null; quality: number; reason?: string | null }
>;

/** The registers of a served storage read (18 words from 0x8061) as config/sim.yaml stores them. */
export function expectedRecord(read: ServedRead): Map<string, number> {
  const status = read.values[0] ?? -1;
  const expected = new Map<string, number>();
  pemelStatusBits.forEach((bit, k) => {
    expected.set(`PEMEL.${bit}`, (status >> k) & 1);
  });
  pemelValueTags.forEach((tag, k) => {
    expected.set(`PEMEL.${tag}`, read.values[4 + k] ?? -1);
  });
  return expected;
}

export interface ServedAccount {
  /** Good PEMEL records, each with the served read it holds. */
  paired: { time: number; read: ServedRead }[];
  /** Good PEMEL records that hold no storage read served in their window (a defect). */
  unexplainedRecords: string[];
  /** Served reads no good record holds, each with the late cycle it was answered too late for. */
  answeredTooLate: { read: ServedRead; cycle: number }[];
  /** Served reads neither a good record nor a late cycle explains. */
  unexplainedReads: ServedRead[];
}

export interface AccountOptions {
  /** What makes a bad PEMEL cycle "too late" (default: the storage deadline's reason). */
  late?: RegExp;
  /** Tags a test made the historian refuse: absent from a record without counting as a difference. */
  skip?: ReadonlySet<string>;
  /** The record a served read must have become (default `expectedRecord`: config/sim.yaml's map). */
  expected?: (read: ServedRead) => ReadonlyMap<string, number>;
}

/**
 * Holds every stored cycle (time → tag → sample, any quality) against the storage reads PEMEL
 * served (in serving order). Cycles the spool dropped are simply absent: their reads stay
 * unexplained, which the caller counts against the cycles it knows were dropped.
 */
export function accountServedReads(
  cycles: ReadonlyMap<number, StoredRecord> | readonly (readonly [number, StoredRecord])[],
  served: readonly ServedRead[],
  options: AccountOptions = {},
): ServedAccount {
  const late = options.late ?? deadlineReason;
  const skip = options.skip ?? new Set<string>();
  const expected = options.expected ?? expectedRecord;
  const differences = (record: StoredRecord, read: ServedRead) =>
    recordDifferences(record, expected(read), skip);
  const entries = [...(cycles instanceof Map ? cycles.entries() : cycles)].sort(([a], [b]) => a - b);
  const claimed = new Set<ServedRead>();
  const paired: ServedAccount["paired"] = [];
  const unexplainedRecords: string[] = [];
  const lateCycles: number[] = [];
  entries.forEach(([time, record], i) => {
    const probe = record.get("PEMEL.el_power_act");
    if (probe?.quality !== 0) {
      const reasons = [...record.entries()]
        .filter(([tag, s]) => tag.startsWith("PEMEL.") && s.quality !== 0)
        .map(([, s]) => s.reason ?? "");
      if (reasons.length > 0 && reasons.every((r) => late.test(r))) lateCycles.push(time);
      return;
    }
    const end = entries[i + 1]?.[0] ?? Number.POSITIVE_INFINITY;
    const candidates = served.filter(
      (r) => r.time >= time - stampSlackMs && r.time < end - stampSlackMs && !claimed.has(r),
    );
    // The cycle's own read is served last in its window (one connection answers in order), but
    // a read of a cycle the spool dropped may follow it: take the last one the record holds.
    const read = candidates.findLast((r) => differences(record, r).length === 0);
    if (read === undefined) {
      const nearest = candidates.at(-1);
      unexplainedRecords.push(
        nearest === undefined
          ? `good PEMEL record at ${time}: no storage read served before the next cycle`
          : `good PEMEL record at ${time} holds none of the ${candidates.length} reads served in its window: ${differences(record, nearest).join("; ")}`,
      );
      return;
    }
    claimed.add(read);
    paired.push({ time, read });
  });
  // Each late cycle explains at most one read served after its slot, oldest first.
  const answeredTooLate: ServedAccount["answeredTooLate"] = [];
  const unexplainedReads: ServedRead[] = [];
  let next = 0;
  for (const read of served) {
    if (claimed.has(read)) continue;
    const cycle = lateCycles[next];
    if (cycle !== undefined && cycle - stampSlackMs <= read.time) {
      answeredTooLate.push({ read, cycle });
      next++;
    } else unexplainedReads.push(read);
  }
  return { paired, unexplainedRecords, answeredTooLate, unexplainedReads };
}

function recordDifferences(
  record: StoredRecord,
  expected: ReadonlyMap<string, number>,
  skip: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  for (const [tag, value] of expected) {
    const stored = record.get(tag);
    if (stored === undefined && skip.has(tag)) continue;
    if (stored?.value !== value) out.push(`${tag} stored ${stored?.value}, served ${value}`);
  }
  return out;
}

export interface PemelAccount extends ServedAccount {
  /** Good PEMEL cycles. */
  good: number[];
  /** Bad PEMEL cycles at the start of a run (before its first good one): PEMEL's link not up yet. */
  startupBad: number[];
  /** Bad PEMEL cycles elsewhere that the storage deadline cut (a busy machine): counted in `lateUnits`. */
  deadlineCuts: number[];
  /** Bad PEMEL cycles elsewhere for any other reason, with it (none where PEMEL stays up). */
  otherBad: string[];
}

/**
 * For tests in which PEMEL stays up: every stored cycle is a good record of a served read, a bad
 * one at a run's start (a run starts at the first cycle and after every hole in the schedule), or
 * one the storage deadline cut. Served reads are accounted as in `accountServedReads`.
 */
export function accountPemel(
  cycles: readonly (readonly [number, StoredRecord])[],
  served: readonly ServedRead[],
  periodMs: number,
  options: AccountOptions = {},
): PemelAccount {
  const account = accountServedReads(cycles, served, options);
  const good: number[] = [];
  const startupBad: number[] = [];
  const deadlineCuts: number[] = [];
  const otherBad: string[] = [];
  let atRunStart = true;
  let previous: number | undefined;
  for (const [time, record] of [...cycles].sort(([a], [b]) => a - b)) {
    if (previous !== undefined && time - previous !== periodMs) atRunStart = true;
    previous = time;
    if (record.get("PEMEL.el_power_act")?.quality === 0) {
      good.push(time);
      atRunStart = false;
      continue;
    }
    const reasons = [...record.entries()]
      .filter(([tag, s]) => tag.startsWith("PEMEL.") && s.quality !== 0)
      .map(([, s]) => s.reason ?? "(no reason)");
    if (reasons.length > 0 && reasons.every((r) => deadlineReason.test(r))) deadlineCuts.push(time);
    else if (atRunStart) startupBad.push(time);
    else otherBad.push(`PEMEL bad at ${time}: ${reasons[0]}`);
  }
  return { ...account, good, startupBad, deadlineCuts, otherBad };
}
