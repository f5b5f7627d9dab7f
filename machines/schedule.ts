/**
 * Drift-free schedules for the control and storage machines. The k-th slot is due at
 * origin + k·period whatever the evaluations before it took; a slot that passed while an
 * evaluation was still running is skipped and counted as an overrun (never two at once).
 */

export interface SlotPlan {
  /** Time of the next slot that has not run yet. */
  nextDueAt: number;
  /** Slots skipped because they fell strictly before `now`. */
  overruns: number;
}

/**
 * Next slot to wait for at time `now`, given the first slot not yet taken (`dueAt`).
 * A slot strictly before `now` was overrun; a slot at `now` is still due (runs at once).
 */
export function planNextSlot(dueAt: number, periodMs: number, now: number): SlotPlan {
  if (!(periodMs > 0) || now <= dueAt) return { nextDueAt: dueAt, overruns: 0 };
  const overruns = Math.ceil((now - dueAt) / periodMs);
  return { nextDueAt: dueAt + overruns * periodMs, overruns };
}

/** First slot of a grid aligned to whole multiples of the period (epoch time), strictly after `now`. */
export function firstAlignedSlot(now: number, periodMs: number): number {
  if (!(periodMs > 0)) return now;
  return (Math.floor(now / periodMs) + 1) * periodMs;
}

/** Milliseconds from `now` until `dueAt`, never negative. */
export function delayUntil(dueAt: number, now: number): number {
  return Math.max(0, dueAt - now);
}
