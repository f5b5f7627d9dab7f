/**
 * A column that is looked up by (a loop's input, or the output of an inverse lookup) must be
 * strictly monotonic: every value is a different point, all in one direction. The direction
 * is free — the reference file runs from 52 A down to 0 A.
 */
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";
import type { Curve } from "./curve-types.ts";

export type CurveDirection = "ascending" | "descending";

/** Checks one column; returns its direction or throws `PB_ERR_CALIBRATION` at the offending line. */
export function checkLookupColumn(curve: Curve, column: number): CurveDirection {
  const name = curve.columns[column];
  if (name === undefined || !Number.isInteger(column)) {
    throw new PlantbridgeError(
      ErrorCode.CALIBRATION,
      `the curve has no column ${column}; its columns are ${curve.columns
        .map((c, i) => `${i} = ${c}`)
        .join(", ")} (counted from 0)`,
      { file: curve.file, keyPath: `column ${column}` },
    );
  }
  let direction: CurveDirection | undefined;
  for (let i = 1; i < curve.rows.length; i++) {
    const before = curve.rows[i - 1]![column]!;
    const here = curve.rows[i]![column]!;
    const line = curve.lines[i]!;
    const lineBefore = curve.lines[i - 1]!;
    const at = curve.fieldColumns[i]?.[column];
    const origin = { file: curve.file, line, keyPath: name, ...(at !== undefined ? { column: at } : {}) };
    if (here === before) {
      throw new PlantbridgeError(
        ErrorCode.CALIBRATION,
        `${name} ${here} repeats the value on line ${lineBefore}; the column used for the lookup must not repeat a value (one ${name} must give one result)`,
        origin,
      );
    }
    const step: CurveDirection = here > before ? "ascending" : "descending";
    if (direction === undefined) {
      direction = step;
    } else if (step !== direction) {
      const was = direction === "descending" ? "falls" : "rises";
      const now = step === "descending" ? "down" : "up";
      throw new PlantbridgeError(
        ErrorCode.CALIBRATION,
        `${name} goes ${now} from ${before} (line ${lineBefore}) to ${here}, but it ${was} everywhere before; the column used for the lookup must only rise or only fall from point to point`,
        origin,
      );
    }
  }
  // parseCurve guarantees two points, so a direction was found.
  return direction ?? "ascending";
}
