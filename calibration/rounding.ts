/**
 * Rounding to whole numbers, decided on the exact double (no `x + 0.5` tricks, which go wrong
 * for 0.49999999999999994 and for large values).
 */
import type { RoundingRule } from "../schemas/plant-types.ts";

/** Python 3's `round(x)`: to the nearest integer, a tie exactly half-way goes to the even one. */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const down = Math.floor(x);
  // Exact: x and floor(x) are within 1 of each other, so their difference is representable.
  const fraction = x - down;
  let result: number;
  if (fraction < 0.5) result = down;
  else if (fraction > 0.5) result = down + 1;
  else result = down % 2 === 0 ? down : down + 1;
  return result + 0; // turns -0 into 0
}

/** To the nearest integer, a tie exactly half-way goes away from zero (2.5 → 3, -2.5 → -3). */
export function roundHalfUp(x: number): number {
  if (!Number.isFinite(x)) return x;
  const magnitude = Math.abs(x);
  const down = Math.floor(magnitude);
  const rounded = magnitude - down >= 0.5 ? down + 1 : down;
  return (x < 0 ? -rounded : rounded) + 0;
}

export function applyRounding(rule: RoundingRule, x: number): number {
  switch (rule) {
    case "half-even":
      return roundHalfEven(x);
    case "half-up":
      return roundHalfUp(x);
    case "none":
      return x;
  }
}
