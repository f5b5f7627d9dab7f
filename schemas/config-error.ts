/**
 * The one error a bad plant file gives: every problem found, each pointing at the file, line,
 * column and key path it concerns.
 */
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";

/** Position of a problem inside the plant file. */
export interface ProblemPlace {
  line: number;
  column: number;
  keyPath: string;
}

/** One problem of a plant file, as a coded error with origin {file, line, column, keyPath}. */
export function configProblem(
  file: string,
  place: ProblemPlace,
  message: string,
  code: ErrorCode = ErrorCode.CONFIG,
): PlantbridgeError {
  return new PlantbridgeError(code, message, {
    file,
    line: place.line,
    column: place.column,
    keyPath: place.keyPath,
  });
}

/** Problems in reading order (line, then column); the order found breaks ties. */
export function sortProblems(problems: readonly PlantbridgeError[]): PlantbridgeError[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = p.describe();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique
    .map((p, index) => ({ p, index }))
    .sort(
      (a, b) =>
        (a.p.origin.line ?? 0) - (b.p.origin.line ?? 0) ||
        (a.p.origin.column ?? 0) - (b.p.origin.column ?? 0) ||
        a.index - b.index,
    )
    .map((x) => x.p);
}

/**
 * Thrown by the plant loader when a file is not a valid plant: never a partial config.
 * `problems` holds every problem found; the message lists each as `file:line:col key.path: message`.
 */
export class PlantConfigError extends PlantbridgeError {
  readonly problems: PlantbridgeError[];

  constructor(file: string, problems: readonly PlantbridgeError[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    const lines = problems.map((p) => `  ${p.describe()}`).join("\n");
    const first = problems[0]?.origin ?? {};
    super(ErrorCode.CONFIG, `plant file ${file} is not valid (${count}):\n${lines}`, { ...first, file });
    this.name = "PlantConfigError";
    this.problems = [...problems];
  }

  /** The whole list: one problem per line. */
  override describe(): string {
    return this.message;
  }
}
