/**
 * Sample times. Storage cycles run on the monotonic clock (a drift-free grid of slots that a
 * wall-clock step never moves); each slot is stamped with the wall-clock time it corresponds to,
 * rounded to the period's grid (whole multiples of the period since the epoch). While the wall
 * clock runs steadily every stamp is exactly one period after the one before. When it steps (NTP,
 * a hand-set clock) the stamps follow it from the next slot on: forward leaves a gap in sample
 * times (never in cycles), backward makes new samples meet times already stored, which the spool
 * and the historian keep as conflicts instead of dropping them.
 */
import type { Clock } from "../lib/clock.ts";

/** A step of the wall clock against the monotonic clock at least this large is logged. */
export const reportedStepMs = 1000;

/** wall − monotonic: constant while the wall clock runs steadily. */
export function clockOffset(clock: Clock): number {
  return clock.wall() - clock.monotonic();
}

/** The wall-clock stamp of a slot due at `slot` (monotonic ms), on the period's grid. */
export function stampOf(slot: number, offset: number, periodMs: number): number {
  const wall = slot + offset;
  if (!(periodMs > 0)) return Math.round(wall);
  return Math.round(wall / periodMs) * periodMs;
}

/** The first slot (monotonic ms) whose stamp is the first grid time strictly after now. */
export function firstSlot(clock: Clock, periodMs: number): { slot: number; offset: number } {
  const offset = clockOffset(clock);
  const now = clock.monotonic();
  if (!(periodMs > 0)) return { slot: now, offset };
  const wallNow = now + offset;
  const firstWall = (Math.floor(wallNow / periodMs) + 1) * periodMs;
  return { slot: firstWall - offset, offset };
}
