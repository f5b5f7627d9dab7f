/**
 * What the plant file's semantic rules use to report a problem at a key (file, line, column, key
 * path) and to read the values they check; the rules live in plant-checks.ts and historian-checks.ts.
 */
import type { PlantbridgeError } from "../lib/errors.ts";
import { configProblem } from "./config-error.ts";
import { parseDuration } from "./durations.ts";
import type { RawDuration, RawLimits } from "./raw-plant.ts";
import { type Anchor, locate, type PlantSource } from "./yaml-source.ts";

export class Checker {
  readonly problems: PlantbridgeError[] = [];
  readonly source: PlantSource;

  constructor(source: PlantSource) {
    this.source = source;
  }

  report(path: readonly string[], message: string, anchor: Anchor = "value"): void {
    this.problems.push(configProblem(this.source.file, locate(this.source, path, anchor), message));
  }

  duration(path: readonly string[], value: RawDuration | undefined, allowZero = false): number | undefined {
    if (value === undefined) return undefined;
    const ms = parseDuration(value);
    if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && !allowZero)) {
      this.report(
        path,
        allowZero ? "must be a duration of 0 or more" : "must be a positive duration (e.g. 500ms, 1s)",
      );
      return undefined;
    }
    return ms;
  }

  limits(path: readonly string[], limits: RawLimits | undefined): void {
    if (limits !== undefined && limits.min > limits.max) {
      this.report([...path, "max"], `max ${limits.max} is below min ${limits.min}`);
    }
  }
}
