/**
 * Historian drift: while plantbridge runs, someone drops or recreates the schema, a table or a
 * column, or recreates the tags table with other ids. The sink recognises it (by the database's
 * SQLSTATE, or by a layout's own check that its tables are still the ones it opened), recreates
 * what is missing, re-reads its caches, and retries the batch once — instead of retrying a batch
 * that can never succeed or dead-lettering every sample.
 */
import { sqlStateIn } from "./classify-error.ts";

/** What each drift SQLSTATE means for the historian. */
const driftStates: Readonly<Record<string, string>> = {
  "3F000": "the schema is missing",
  "42P01": "a table is missing",
  "42703": "a column is missing",
  "23503": "a sample's tag id is not in the tags table (tags recreated with other ids?)",
};

/** Thrown by a layout that finds its tables changed before it writes. */
export class HistorianDrift extends Error {
  constructor(found: string) {
    super(found);
    this.name = "HistorianDrift";
  }
}

/** What drift the error shows, in words with the database's message; undefined when it is no drift. */
export function driftIn(e: unknown): string | undefined {
  if (e instanceof HistorianDrift) return e.message;
  const state = sqlStateIn(e);
  const meaning = state === undefined ? undefined : driftStates[state];
  if (meaning === undefined) return undefined;
  return `${meaning} (SQLSTATE ${state}: ${e instanceof Error ? e.message : String(e)})`;
}
