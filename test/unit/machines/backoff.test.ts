import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../../machines/backoff.ts";
import type { ReconnectConfig } from "../../../schemas/plant-types.ts";

const doubling: ReconnectConfig = {
  initialDelayMs: 1000,
  maxDelayMs: 8000,
  factor: 2,
  jitter: 0,
  stableAfterMs: 10_000,
};

describe("backoffDelay", () => {
  it.each([
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [4, 8000],
    [5, 8000],
    [50, 8000],
    [5000, 8000],
  ])("grows by the factor and stops at the cap: attempt %i → %i ms", (attempt, expected) => {
    expect(backoffDelay(attempt, doubling, () => 0.9)).toBe(expected);
  });

  it.each([
    [0, 1000],
    [-3, 1000],
    [Number.NaN, 1000],
  ])("treats attempt %s as the first failure", (attempt, expected) => {
    expect(backoffDelay(attempt, doubling, () => 0)).toBe(expected);
  });

  it.each([
    // [factor, attempt, expected]
    [1.5, 1, 500],
    [1.5, 2, 750],
    [1.5, 3, 1125],
    [3, 3, 4500],
    [1, 9, 500],
  ])("uses the configured factor %d (attempt %i → %i ms)", (factor, attempt, expected) => {
    const config = { initialDelayMs: 500, maxDelayMs: 60_000, factor, jitter: 0, stableAfterMs: 10_000 };
    expect(backoffDelay(attempt, config, () => 0.5)).toBe(expected);
  });

  it.each([
    // [jitter, random, expected] for a 4000 ms delay: drawn from [4000·(1−jitter), 4000]
    [0.5, 0, 4000],
    [0.5, 0.5, 3000],
    [0.5, 0.999_999, 2000],
    [0.25, 1, 3000],
    [1, 0.5, 2000],
    [0, 0.7, 4000],
  ])("jitter %d with random %d gives %i ms", (jitter, random, expected) => {
    const config = { ...doubling, jitter };
    expect(backoffDelay(3, config, () => random)).toBe(expected);
  });

  it("stays inside [d·(1−jitter), d] for any random draw, and inside the cap", () => {
    const config = { initialDelayMs: 100, maxDelayMs: 3000, factor: 2, jitter: 0.3, stableAfterMs: 10_000 };
    for (let attempt = 1; attempt <= 12; attempt++) {
      const d = Math.min(3000, 100 * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.5, 0.9, 0.999]) {
        const delay = backoffDelay(attempt, config, () => r);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(d * 0.7));
        expect(delay).toBeLessThanOrEqual(d);
      }
    }
  });

  it("never exceeds the cap when the initial delay is above it", () => {
    const config = { initialDelayMs: 10_000, maxDelayMs: 2000, factor: 2, jitter: 0, stableAfterMs: 10_000 };
    expect(backoffDelay(1, config, () => 0)).toBe(2000);
  });
});
