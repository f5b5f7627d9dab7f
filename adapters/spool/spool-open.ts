/**
 * Opening a spool: the options checked, the file opened with its settings and current layout,
 * and the owner's mirror loaded from it.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { SpoolSynchronous } from "../../schemas/plant-types.ts";
import { createInFlightLedger } from "./in-flight.ts";
import { asSpoolError, transaction } from "./spool-errors.ts";
import { applySpoolSettings, conflictSink, createSpoolTables } from "./spool-schema.ts";
import { minCursor, readCounters, type SpoolState } from "./spool-state.ts";
import { numberOf, prepareSpoolStatements } from "./spool-statements.ts";
import { emptyTail } from "./spool-tail.ts";

/** Dead letters kept when the options name no bound (the plant file's default too). */
export const defaultMaxDeadLetters = 100_000;

export interface SpoolOptions {
  /** The SQLite file; its folder is created when missing. */
  path: string;
  /** The sinks that drain this spool, each with its own cursor. */
  sinks: readonly string[];
  /** Most samples held; past it the oldest are dropped (counted, logged). */
  maxSamples: number;
  /** Most dead letters held; past it the oldest are dropped (counted, logged). Default 100 000. */
  maxDeadLetters?: number;
  synchronous: SpoolSynchronous;
  log: Log;
}

export function wholeAtLeastOne(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1;
}

export function checkOptions(options: SpoolOptions): { sinks: string[]; maxDeadLetters: number } {
  const { path } = options;
  const sinks = [...new Set(options.sinks)];
  if (sinks.length === 0 || sinks.length !== options.sinks.length || sinks.some((s) => s.length === 0)) {
    throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: sinks must be distinct non-empty names`);
  }
  if (sinks.includes(conflictSink)) {
    throw new PlantbridgeError(
      ErrorCode.SPOOL,
      `spool ${path}: "${conflictSink}" names the spool's conflicts, not a sink`,
    );
  }
  if (!wholeAtLeastOne(options.maxSamples)) {
    throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: maxSamples must be a whole number >= 1`);
  }
  const maxDeadLetters = options.maxDeadLetters ?? defaultMaxDeadLetters;
  if (!wholeAtLeastOne(maxDeadLetters)) {
    throw new PlantbridgeError(ErrorCode.SPOOL, `spool ${path}: maxDeadLetters must be a whole number >= 1`);
  }
  return { sinks, maxDeadLetters };
}

/** Opens the file read-write with its settings and current layout (migrated when older). */
export function openSpoolDatabase(path: string, synchronous: SpoolSynchronous): DatabaseSync {
  let db: DatabaseSync;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new DatabaseSync(path, { timeout: 5_000 });
  } catch (e) {
    throw asSpoolError(path, "open", e);
  }
  try {
    applySpoolSettings(db, synchronous);
    createSpoolTables(db);
    return db;
  } catch (e) {
    db.close();
    throw asSpoolError(path, "open", e);
  }
}

/** The cursors of the configured sinks (a sink no longer configured is forgotten) and the figures. */
export function loadState(
  db: DatabaseSync,
  options: SpoolOptions,
  sinks: readonly string[],
  maxDeadLetters: number,
): SpoolState {
  const st = prepareSpoolStatements(db);
  const state: SpoolState = {
    path: options.path,
    db,
    st,
    log: options.log,
    maxSamples: options.maxSamples,
    maxDeadLetters,
    cursors: new Map(),
    pending: new Map(),
    inFlight: createInFlightLedger(),
    tail: emptyTail(),
    counters: readCounters(st),
    held: 0,
    lastSeq: 0,
    deadLetters: 0,
  };
  const forgotten = transaction(db, () => {
    const gone = st.allCursorSinks
      .all()
      .map((r) => String(r.sink))
      .filter((s) => !sinks.includes(s));
    for (const sink of gone) st.deleteCursor.run(sink);
    for (const sink of sinks) st.addCursor.run(sink);
    for (const sink of sinks) state.cursors.set(sink, numberOf(st.getCursor.get(sink), "seq"));
    // Samples every configured sink has passed (e.g. a sink left the config) can go now.
    st.deleteUpTo.run(minCursor(state.cursors));
    return gone;
  });
  state.lastSeq = numberOf(st.lastSeq.get(), "seq");
  state.held = numberOf(st.countAll.get(), "n");
  state.deadLetters = numberOf(st.countDeadLetters.get(), "n");
  for (const [sink, cursor] of state.cursors)
    state.pending.set(sink, numberOf(st.countAfter.get(cursor), "n"));
  if (forgotten.length > 0) {
    options.log.info(
      { spool: options.path, sinks: forgotten },
      "spool forgot the cursors of sinks no longer configured",
    );
  }
  return state;
}
