/**
 * Demotion of a unit that stops answering on a shared Modbus TCP connection (as Kepware's
 * auto-demotion does): after `after` timeouts in a row its requests are refused at once for a
 * period, then one request is let through as a probe. A probe that times out demotes the unit
 * again for twice the previous period (up to `maxPeriodMs`); any answer (a reply or a Modbus
 * exception) restores it completely. Pure bookkeeping on the monotonic clock: the gateway keeps
 * one state per unit and asks `admit` before it sends anything of that unit.
 */

export interface DemotionPolicy {
  /** Timeouts in a row that demote the unit. */
  after: number;
  /** Length of the first demotion. */
  periodMs: number;
  /** Cap of the doubling demotion period. */
  maxPeriodMs: number;
}

export interface DemotionState {
  /** Timeouts since the unit last answered (not reset by a demotion). */
  timeoutsInARow: number;
  /** Demotions since the unit last answered. */
  demotions: number;
  /** Monotonic ms until which requests are refused; null when not demoted. */
  demotedUntil: number | null;
  /** Length of the current (or last) demotion. */
  periodMs: number;
}

export const answering: DemotionState = { timeoutsInARow: 0, demotions: 0, demotedUntil: null, periodMs: 0 };

/** What to do with the unit's next request. */
export type Admission =
  /** Send it; `probe` when it is the first request after a demotion ended. */
  | { kind: "send"; probe: boolean }
  /** Refuse it without sending: the unit is demoted for `remainingMs` more. */
  | { kind: "refuse"; remainingMs: number; reason: string };

/** The demotion period of the `n`-th demotion in a row (1-based): doubling from `periodMs`, capped. */
export function demotionPeriod(policy: DemotionPolicy, n: number): number {
  const doubled = policy.periodMs * 2 ** Math.max(0, n - 1);
  return Math.min(policy.maxPeriodMs, doubled);
}

/** The reason a refused request's tags read bad with. */
export function demotedReason(state: DemotionState): string {
  const n = state.timeoutsInARow;
  return `demoted for ${formatSeconds(state.periodMs)} after ${n} ${n === 1 ? "timeout" : "timeouts in a row"}`;
}

export function admit(state: DemotionState, now: number): Admission {
  if (state.demotedUntil !== null && now < state.demotedUntil) {
    return { kind: "refuse", remainingMs: state.demotedUntil - now, reason: demotedReason(state) };
  }
  return { kind: "send", probe: state.demotions > 0 };
}

/** True while the unit is demoted or its probe has not answered yet: it is not in good standing. */
export function isSuspended(state: DemotionState): boolean {
  return state.demotions > 0;
}

/** The unit did not answer its last request: it goes after the units that did (gateway-rounds.ts). */
export function isSuspect(state: DemotionState): boolean {
  return state.timeoutsInARow > 0;
}

/** A request of the unit got no reply in time. `demoted`: this timeout (re)demoted the unit. */
export function noteTimeout(
  state: DemotionState,
  now: number,
  policy: DemotionPolicy,
): { state: DemotionState; demoted: boolean } {
  const timeoutsInARow = state.timeoutsInARow + 1;
  if (timeoutsInARow < policy.after) return { state: { ...state, timeoutsInARow }, demoted: false };
  const demotions = state.demotions + 1;
  const periodMs = demotionPeriod(policy, demotions);
  return { state: { timeoutsInARow, demotions, demotedUntil: now + periodMs, periodMs }, demoted: true };
}

/** The unit answered (a reply or an exception): restored, whatever came before. */
export function noteAnswer(state: DemotionState): { state: DemotionState; restored: boolean } {
  return { state: answering, restored: state.demotions > 0 };
}

/**
 * Takes back one timeout that turned out to be the connection's fault (every unit on it went
 * silent at once): it does not count towards the unit's demotion. A demotion already in force stays.
 */
export function forgiveTimeout(state: DemotionState): DemotionState {
  if (isSuspended(state) || state.timeoutsInARow === 0) return state;
  return { ...state, timeoutsInARow: state.timeoutsInARow - 1 };
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
