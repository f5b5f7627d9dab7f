/**
 * The wide layout's rule, as pure functions: a cell that holds a value is never overwritten by a
 * different one. A batch is assembled into one row per stored time (the time column's value: epoch
 * ms, or wall ms for a local-time column — where the repeated autumn hour lands on the same row),
 * then merged with the rows the table holds at those times:
 *
 * - no row at that time: the row is inserted;
 * - a NULL cell (bad quality before, or a column added later) takes the new value;
 * - a cell holding the same value: nothing to do (a replay);
 * - a cell holding another value: the sample is a conflict and comes back to the caller;
 * - a bad-quality sample (NULL) never erases anything.
 *
 * A table with duplicate times (the original tool wrote the repeated autumn hour twice) may hold
 * several rows at one time: a value equal to any of them is a replay, a value where any of them
 * holds another one is a conflict, and a NULL cell is filled in every row of that time.
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { SampleConflict, SpooledSample } from "../types.ts";
import { wideConflictReason } from "./conflict-reason.ts";
import { numericValue } from "./layout.ts";

export interface WideNaming {
  /** `schema.table`, for messages. */
  table: string;
  columnOf(tag: string): string | undefined;
  /** Epoch ms → the time key the time column holds. */
  keyOf(epochMs: number): number;
  /** A key as a person reads it, e.g. `2025-10-26 02:30:00.000 (local time, Europe/Berlin)`. */
  showKey(key: number): string;
}

interface WideCell {
  value: number | null;
  sample: SpooledSample;
}

/** Per time key, per column, the batch's cell. */
export type WideRows = Map<number, Map<string, WideCell>>;

/** Per time key, per column, the values of the rows stored at that time (several with duplicate times). */
export type StoredCells = Map<number, Map<string, (number | null)[]>>;

export interface WideMerge {
  /** Rows to insert: time key → column → value (NULL for bad quality). */
  inserts: Map<number, Map<string, number | null>>;
  /** NULL cells to fill: time key → column → value. */
  fills: Map<number, Map<string, number>>;
  conflicts: SampleConflict[];
}

function conflictOf(naming: WideNaming, key: number, column: string, stored: number, sample: SpooledSample) {
  const cell = { table: naming.table, column, time: naming.showKey(key), stored };
  return { sample, reason: wideConflictReason(sample, cell) };
}

/** One row per time key; within the batch the first value of a cell holds, as it would in the table. */
export function assembleWide(
  batch: readonly SpooledSample[],
  naming: WideNaming,
): { rows: WideRows; conflicts: SampleConflict[] } {
  const rows: WideRows = new Map();
  const conflicts: SampleConflict[] = [];
  for (const sample of batch) {
    const column = naming.columnOf(sample.tag);
    if (column === undefined) {
      const dot = sample.tag.indexOf(".");
      throw new PlantbridgeError(
        ErrorCode.HISTORIAN_REJECTED,
        `historian wide table ${naming.table} has no column for tag ${sample.tag}`,
        dot > 0 ? { unit: sample.tag.slice(0, dot), tag: sample.tag.slice(dot + 1) } : { tag: sample.tag },
      );
    }
    const key = naming.keyOf(sample.time);
    let row = rows.get(key);
    if (row === undefined) {
      row = new Map();
      rows.set(key, row);
    }
    const value = sample.quality === "good" ? numericValue(sample) : null;
    const held = row.get(column);
    if (held === undefined || held.value === null) {
      if (held === undefined || value !== null) row.set(column, { value, sample });
    } else if (value !== null && value !== held.value) {
      conflicts.push(conflictOf(naming, key, column, held.value, sample));
    }
  }
  return { rows, conflicts };
}

/** What to insert, what to fill, and which samples conflict with the stored rows. */
export function mergeWide(rows: WideRows, stored: StoredCells, naming: WideNaming): WideMerge {
  const merge: WideMerge = { inserts: new Map(), fills: new Map(), conflicts: [] };
  for (const [key, row] of rows) {
    const there = stored.get(key);
    if (there === undefined) {
      merge.inserts.set(key, new Map([...row].map(([column, cell]) => [column, cell.value])));
      continue;
    }
    for (const [column, cell] of row) {
      if (cell.value === null) continue;
      const values = there.get(column) ?? [];
      if (values.includes(cell.value)) continue;
      const holding = values.find((v) => v !== null);
      if (holding !== undefined && holding !== null) {
        merge.conflicts.push(conflictOf(naming, key, column, holding, cell.sample));
        continue;
      }
      let fill = merge.fills.get(key);
      if (fill === undefined) {
        fill = new Map();
        merge.fills.set(key, fill);
      }
      fill.set(column, cell.value);
    }
  }
  return merge;
}
