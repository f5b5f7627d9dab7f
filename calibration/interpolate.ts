/**
 * Linear interpolation on a curve, exactly as the original PyComInt tool computed it:
 * walk the rows in FILE ORDER, take the FIRST segment whose two inputs enclose x, and
 * evaluate `y[i] + slope * (x - x[i])` with `slope = (y[i+1] - y[i]) / (x[i+1] - x[i])`.
 * The same IEEE double operations in the same order give the same doubles as Python did.
 */
import { ErrorCode, type ErrorOrigin, PlantbridgeError } from "../lib/errors.ts";
import type { Curve } from "./curve.ts";
import { type CurveDirection, checkLookupColumn } from "./monotonic.ts";

/** A curve prepared for looking up one column by another: checked once, then evaluated often. */
export interface CurveLookup {
  readonly curve: Curve;
  readonly inputColumn: number;
  readonly outputColumn: number;
  /** Input and output values in file order. */
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Highest and lowest input of the curve. */
  readonly top: number;
  readonly bottom: number;
  readonly direction: CurveDirection;
}

/** Checks the columns (the input one strictly monotonic) and prepares the lookup. */
export function createLookup(curve: Curve, inputColumn: number, outputColumn: number): CurveLookup {
  const direction = checkLookupColumn(curve, inputColumn);
  if (curve.columns[outputColumn] === undefined || !Number.isInteger(outputColumn)) {
    throw new PlantbridgeError(
      ErrorCode.CALIBRATION,
      `the curve has no column ${outputColumn} to give as the result; its columns are ${curve.columns
        .map((c, i) => `${i} = ${c}`)
        .join(", ")} (counted from 0)`,
      { file: curve.file, keyPath: `column ${outputColumn}` },
    );
  }
  const inputs = curve.rows.map((r) => r[inputColumn]!);
  const outputs = curve.rows.map((r) => r[outputColumn]!);
  let top = inputs[0]!;
  let bottom = inputs[0]!;
  for (const x of inputs) {
    if (x > top) top = x;
    if (x < bottom) bottom = x;
  }
  return { curve, inputColumn, outputColumn, inputs, outputs, top, bottom, direction };
}

/**
 * The original tool's segment walk. Returns undefined when no segment encloses x
 * (x outside [bottom, top], or NaN).
 */
export function segmentValue(lookup: CurveLookup, x: number): number | undefined {
  const xs = lookup.inputs;
  const ys = lookup.outputs;
  for (let i = 0; i < xs.length - 1; i++) {
    const a = xs[i]!;
    const b = xs[i + 1]!;
    if ((a <= x && x <= b) || (a >= x && x >= b)) {
      const y = ys[i]!;
      const slope = (ys[i + 1]! - y) / (b - a);
      return y + slope * (x - a);
    }
  }
  return undefined;
}

const cache = new WeakMap<Curve, Map<string, CurveLookup>>();

function cachedLookup(curve: Curve, inputColumn: number, outputColumn: number): CurveLookup {
  let byColumns = cache.get(curve);
  if (byColumns === undefined) {
    byColumns = new Map();
    cache.set(curve, byColumns);
  }
  const key = `${inputColumn}>${outputColumn}`;
  let lookup = byColumns.get(key);
  if (lookup === undefined) {
    lookup = createLookup(curve, inputColumn, outputColumn);
    byColumns.set(key, lookup);
  }
  return lookup;
}

function requireFinite(x: number, what: string, curve: Curve, origin?: ErrorOrigin): void {
  if (!Number.isFinite(x)) {
    throw new PlantbridgeError(
      ErrorCode.BAD_INPUT,
      `${what} ${x} is not a finite number; the curve ${curve.file} cannot be looked up with it`,
      origin ?? { file: curve.file },
    );
  }
}

/**
 * The value of `outputColumn` at `x` in `inputColumn`. Inside the curve's range, ends included,
 * this is the original tool's interpolation; outside it the value at the nearer end of the curve (no
 * extrapolation). Throws `PB_ERR_BAD_INPUT` for NaN/±Infinity and `PB_ERR_CALIBRATION` when the
 * input column is not strictly monotonic. The column check runs once per curve and column pair.
 */
export function interpolate(curve: Curve, inputColumn: number, outputColumn: number, x: number): number {
  const lookup = cachedLookup(curve, inputColumn, outputColumn);
  requireFinite(x, curve.columns[inputColumn] ?? "input", curve);
  return valueWithin(lookup, x);
}

/**
 * The other way round: the value of `inputColumn` at which `outputColumn` equals `y`
 * (e.g. with the loop's columns 1 → 0, the H2 flow that a stack current gives).
 * Needs the output column to be strictly monotonic as well; ends are held like `interpolate`.
 */
export function invert(curve: Curve, inputColumn: number, outputColumn: number, y: number): number {
  return interpolate(curve, outputColumn, inputColumn, y);
}

function valueWithin(lookup: CurveLookup, x: number): number {
  if (x > lookup.top) return outputAt(lookup, lookup.top);
  if (x < lookup.bottom) return outputAt(lookup, lookup.bottom);
  // On the closed range a segment always encloses x (the input column is monotonic),
  // so both ends too are computed by the original walk, bit for bit.
  return segmentValue(lookup, x)!;
}

function outputAt(lookup: CurveLookup, end: number): number {
  return lookup.outputs[lookup.inputs.indexOf(end)]!;
}
