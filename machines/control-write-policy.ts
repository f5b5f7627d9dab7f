/**
 * When a control loop writes, and what: the shape of its writes so they fit a real PLC. Pure, on
 * the monotonic clock. With none of the options set, a loop writes each new decision at once,
 * once (and again after a reconnect or a failed write), as it always did.
 *
 * - `rampRatePerS`: the written set point moves toward a new value by at most this many output
 *   units per second, one step per evaluation (the first step at once); the fail-safe is never
 *   ramped, it is written at once.
 * - `minWriteIntervalMs`: at most one write per interval; a write due earlier waits, and what is
 *   written then is the decision of that moment (the latest wins).
 * - `reassertMs`: the current decision is written again when nothing was written for this long.
 */
import { applyRounding } from "../calibration/rounding.ts";
import type { ControlLoopConfig } from "../schemas/plant-types.ts";
import { decisionValue } from "./control-decision.ts";
import type { ControlDecision } from "./control-types.ts";

/** A ramp under way: from the value written when it started toward its target. */
export interface Ramp {
  from: number;
  /** Monotonic ms the ramp counts from (one step before it started, so the first step is immediate). */
  at: number;
  target: number;
}

export interface WriteState {
  /** Last value written successfully. */
  lastWritten: number | null;
  /** Monotonic ms of the last write sent (successful or not). */
  lastWriteAt: number | null;
  ramp: Ramp | null;
}

export interface WriteFlags {
  /** The output unit is connected. */
  attached: boolean;
  /** The output reconnected: write the decision once even if unchanged. */
  rewritePending: boolean;
  lastWriteFailed: boolean;
}

export type WriteReason = "change" | "retry" | "rewrite" | "reassert";

export type WritePlan =
  | { kind: "write"; value: number; reason: WriteReason; ramp: Ramp | null }
  | { kind: "wait"; until: number; ramp: Ramp | null }
  | { kind: "none"; ramp: Ramp | null };

export const initialWriteState: WriteState = { lastWritten: null, lastWriteAt: null, ramp: null };

export function planWrite(
  loop: ControlLoopConfig,
  decision: ControlDecision | null,
  state: WriteState,
  flags: WriteFlags,
  now: number,
): WritePlan {
  const target = decisionValue(decision);
  if (target === undefined || !flags.attached) return { kind: "none", ramp: null };
  const shaped =
    decision?.kind === "fail-safe" ? { value: target, ramp: null } : rampToward(loop, target, state, now);
  const reason = writeReason(loop, shaped.value, state, flags, now);
  if (reason === null) return { kind: "none", ramp: shaped.ramp };
  const allowedAt = state.lastWriteAt === null ? now : state.lastWriteAt + loop.minWriteIntervalMs;
  if (now < allowedAt) return { kind: "wait", until: allowedAt, ramp: state.ramp };
  return { kind: "write", value: shaped.value, reason, ramp: shaped.ramp };
}

function writeReason(
  loop: ControlLoopConfig,
  value: number,
  state: WriteState,
  flags: WriteFlags,
  now: number,
): WriteReason | null {
  if (value !== state.lastWritten) return "change";
  if (flags.lastWriteFailed) return "retry";
  if (flags.rewritePending) return "rewrite";
  if (
    loop.reassertMs !== undefined &&
    state.lastWriteAt !== null &&
    now - state.lastWriteAt >= loop.reassertMs
  )
    return "reassert";
  return null;
}

function rampToward(
  loop: ControlLoopConfig,
  target: number,
  state: WriteState,
  now: number,
): { value: number; ramp: Ramp | null } {
  const rate = loop.rampRatePerS;
  const last = state.lastWritten;
  // Without a written value to start from (the first write after start), the loop writes the target.
  if (rate === undefined || last === null || last === target) return { value: target, ramp: null };
  const ramp =
    state.ramp !== null && state.ramp.target === target
      ? state.ramp
      : { from: last, at: now - loop.periodMs, target };
  const reach = (rate * Math.max(0, now - ramp.at)) / 1000;
  const distance = target - ramp.from;
  if (Math.abs(distance) <= reach) return { value: target, ramp: null };
  const step = applyRounding(loop.transform.round, ramp.from + Math.sign(distance) * reach);
  // Rounding may not pass the target, nor fall back behind the value already written.
  const value =
    distance > 0 ? Math.min(target, Math.max(step, last)) : Math.max(target, Math.min(step, last));
  return { value, ramp: value === target ? null : ramp };
}

/**
 * When the loop must wake up for its write policy alone (a deferred write, a reassert), if ever:
 * always later than `now` (a wake-up that is due already is left to the periodic evaluations).
 */
export function nextWriteWake(
  loop: ControlLoopConfig,
  plan: WritePlan,
  state: WriteState,
  now: number,
): number | null {
  let wake: number | null = null;
  if (plan.kind === "wait") wake = plan.until;
  else if (loop.reassertMs !== undefined && state.lastWriteAt !== null)
    wake = state.lastWriteAt + loop.reassertMs;
  return wake !== null && wake > now ? wake : null;
}
