/**
 * The control transform: a demand (e.g. METH's H2 flow, Nl/min) becomes a set point (e.g.
 * PEMEL's stack current, A). For the reference loop it gives exactly the original tool's
 * integer currents, floating-point effects included:
 *
 *   demand >= top of the curve        → atOrAboveTop (52 A), as configured, not rounded
 *   demand <  bottom of the curve     → belowBottom (0 A), as configured, not rounded
 *   otherwise the original segment walk (interpolate.ts), then
 *     result < minimum.value (8 A)    → minimum.replacement (0 A, off), not rounded
 *     else                            → rounded (half-even = Python's round())
 *   finally every result is clamped to `clamp`, if configured.
 *
 * NaN and ±Infinity are bad input: `{ ok: false }` and nothing to write (the original wrote
 * 52 A for +Infinity; plantbridge deliberately does not).
 */
import { ErrorCode, type ErrorOrigin, PlantbridgeError } from "../lib/errors.ts";
import type { TransformConfig } from "../schemas/plant-types.ts";
import { type Curve, loadCurve } from "./curve.ts";
import { createLookup, segmentValue } from "./interpolate.ts";
import { applyRounding } from "./rounding.ts";

/** Which branch of the rule produced the value. `direct` = no curve, the input itself. */
export type TransformRule = "curve" | "at-or-above-top" | "below-bottom" | "minimum" | "direct";

export type TransformResult =
  | {
      ok: true;
      /** The value to write. */
      value: number;
      rule: TransformRule;
      /** True when `clamp` changed the value. */
      clamped: boolean;
      /** The value before minimum rule, rounding and clamp (the interpolated value for `curve`). */
      raw: number;
    }
  | { ok: false; error: PlantbridgeError };

export type Transform = (input: number) => TransformResult;

/**
 * Builds the transform once. The curve is passed in already loaded (`loadCurve`), so the file is
 * read once at start-up and never per cycle. `origin` (the loop's unit and tag) goes into the
 * errors of bad inputs. Throws `PB_ERR_CALIBRATION` / `PB_ERR_CONFIG` for an unusable set-up.
 */
export function createTransform(config: TransformConfig, curve?: Curve, origin: ErrorOrigin = {}): Transform {
  checkConfig(config, curve);
  const lookup =
    config.curve && curve
      ? createLookup(curve, config.curve.inputColumn, config.curve.outputColumn)
      : undefined;
  const atOrAboveTop = config.curve?.atOrAboveTop ?? 0;
  const belowBottom = config.curve?.belowBottom ?? 0;
  const { minimum, round, clamp } = config;
  const inputName = lookup ? lookup.curve.columns[lookup.inputColumn] : "input";

  const finish = (raw: number, value: number, rule: TransformRule): TransformResult => {
    if (clamp === undefined) return { ok: true, value, rule, clamped: false, raw };
    const limited = Math.min(clamp.max, Math.max(clamp.min, value));
    return { ok: true, value: limited, rule, clamped: limited !== value, raw };
  };

  return (input: number): TransformResult => {
    if (typeof input !== "number" || !Number.isFinite(input)) {
      return {
        ok: false,
        error: new PlantbridgeError(
          ErrorCode.BAD_INPUT,
          `the input (${inputName}) is ${String(input)}, not a finite number; no set point is computed from it`,
          { ...origin },
        ),
      };
    }
    let raw: number;
    let rule: TransformRule;
    if (lookup) {
      if (input >= lookup.top) return finish(atOrAboveTop, atOrAboveTop, "at-or-above-top");
      if (input < lookup.bottom) return finish(belowBottom, belowBottom, "below-bottom");
      raw = segmentValue(lookup, input)!;
      rule = "curve";
    } else {
      raw = input;
      rule = "direct";
    }
    if (minimum !== undefined && raw < minimum.value) return finish(raw, minimum.replacement, "minimum");
    return finish(raw, applyRounding(round, raw), rule);
  };
}

/** Loads the configured curve file (once) and builds the transform. */
export async function loadTransform(config: TransformConfig, origin: ErrorOrigin = {}): Promise<Transform> {
  const curve = config.curve
    ? await loadCurve(config.curve.file, { lookupColumns: [config.curve.inputColumn] })
    : undefined;
  return createTransform(config, curve, origin);
}

function checkConfig(config: TransformConfig, curve: Curve | undefined): void {
  if (config.curve && !curve) {
    throw new PlantbridgeError(
      ErrorCode.CALIBRATION,
      "the transform uses a curve, but no curve was loaded; load it once with loadCurve() and pass it in",
      { file: config.curve.file },
    );
  }
  if (!config.curve && curve) {
    throw new PlantbridgeError(
      ErrorCode.CONFIG,
      `a curve (${curve.file}) was given, but the transform has no curve settings (columns, top and bottom values)`,
      { keyPath: "transform.curve" },
    );
  }
  const numbers: [string, number][] = [];
  if (config.curve) {
    numbers.push(["transform.curve.atOrAboveTop", config.curve.atOrAboveTop]);
    numbers.push(["transform.curve.belowBottom", config.curve.belowBottom]);
  }
  if (config.minimum) {
    numbers.push(["transform.minimum.value", config.minimum.value]);
    numbers.push(["transform.minimum.replacement", config.minimum.replacement]);
  }
  if (config.clamp) {
    numbers.push(["transform.clamp.min", config.clamp.min]);
    numbers.push(["transform.clamp.max", config.clamp.max]);
  }
  for (const [keyPath, value] of numbers) {
    if (!Number.isFinite(value)) {
      throw new PlantbridgeError(ErrorCode.CONFIG, `${value} is not a finite number`, { keyPath });
    }
  }
  if (config.clamp && config.clamp.min > config.clamp.max) {
    throw new PlantbridgeError(
      ErrorCode.CONFIG,
      `the clamp's min ${config.clamp.min} is above its max ${config.clamp.max}`,
      { keyPath: "transform.clamp" },
    );
  }
}
