/**
 * Which dead letters an operator means (`plantbridge spool … --sink --tag --reason-contains`), as
 * one fixed SQL condition with bound parameters: an absent filter matches everything.
 */
import { conflictSink } from "./spool-schema.ts";

export interface DeadLetterFilter {
  /** Only this sink's dead letters (`conflict` for conflicts). */
  sink?: string;
  /** Only this tag (`UNIT.tag`). */
  tag?: string;
  /** Only dead letters whose reason (the sink's error, or the conflict) contains this text (case-sensitive). */
  reasonContains?: string;
}

/** The condition; pair it with `filterParameters`. `$skipConflicts` 1 leaves conflicts out. */
export const filterCondition =
  "($sink IS NULL OR sink = $sink) AND ($tag IS NULL OR tag = $tag) AND " +
  "($text IS NULL OR instr(error, $text) > 0) AND ($skipConflicts = 0 OR sink <> $conflictSink)";

export function filterParameters(
  filter: DeadLetterFilter,
  skipConflicts = false,
): Record<string, string | number | null> {
  return {
    sink: filter.sink ?? null,
    tag: filter.tag ?? null,
    text: filter.reasonContains ?? null,
    skipConflicts: skipConflicts ? 1 : 0,
    conflictSink,
  };
}

/**
 * What a dead letter's reason says without its row-specific detail, to count reasons: a conflict
 * is a conflict whatever the values; a database's `(Failing row contains (…))` or `(Key (…)=(…))`
 * detail at the end is left off.
 */
export function reasonClass(sink: string, error: string): string {
  if (sink === conflictSink) return "the spool already held the tag and time with another value";
  let text = error.trimEnd();
  if (!text.endsWith(")")) return text;
  let depth = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text[i];
    if (c === ")") depth++;
    else if (c === "(" && --depth === 0) {
      const head = text.slice(0, i).trimEnd();
      // Keep a short parenthesis such as "(SQLSTATE 23514)" that is all the reason says.
      if (head.length > 0 && text.length - i > 24) text = head;
      break;
    }
  }
  return text;
}
