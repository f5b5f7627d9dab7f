/**
 * Reconnect backoff: how long a unit (or the historian) waits before the next attempt.
 * Pure: the random source is injected so tests and the simulated clock stay deterministic.
 */
import type { ReconnectConfig } from "../schemas/plant-types.ts";

/**
 * Delay before the next attempt after `attempt` consecutive failures (1 = first failure).
 * Grows as initialDelayMs · factor^(attempt−1), capped at maxDelayMs, then jittered:
 * drawn from [d·(1−jitter), d] as documented in `ReconnectConfig`. Whole milliseconds.
 */
export function backoffDelay(attempt: number, config: ReconnectConfig, random: () => number): number {
  const failures = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const cap = Math.max(0, config.maxDelayMs);
  const initial = Math.min(Math.max(0, config.initialDelayMs), cap);
  const factor = Math.max(1, config.factor);
  const grown = initial * factor ** (failures - 1);
  const delay = Number.isFinite(grown) ? Math.min(grown, cap) : cap;
  const jitter = clamp01(config.jitter);
  const draw = clamp01(random());
  return Math.round(delay - delay * jitter * draw);
}

function clamp01(x: number): number {
  if (!Number.isFinite(x)) return 0;
  return Math.min(1, Math.max(0, x));
}
