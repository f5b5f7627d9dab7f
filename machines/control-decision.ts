/**
 * The control rule of one loop, as a pure function of what was read: follow the demand,
 * hold, stay off without permissive, or go to the fail-safe value. No I/O, no clock.
 */
import type { Reading } from "../adapters/types.ts";
import { errorMessage } from "../lib/errors.ts";
import type { ControlLoopConfig, TagRef } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import type { ControlDecision, FollowDecision, LoopMemory, LoopTransform } from "./control-types.ts";

export interface TagState {
  reading: Reading | undefined;
  /** Subscribed tags are pushed on change only: attached and good counts as fresh. */
  subscribed: boolean;
}

export interface Evaluation {
  decision: ControlDecision;
  memory: LoopMemory;
  /** Set when the transform refused the input at this evaluation. */
  transformError?: string;
}

export const initialLoopMemory: LoopMemory = {
  badSince: null,
  failSafeActive: false,
  transformFailing: false,
  followed: null,
};

/** Why a reading cannot be used, or null when it is good and fresh. */
export function readingProblem(ref: TagRef, tag: TagState, now: number, staleAfterMs: number): string | null {
  const id = tagId(ref);
  const reading = tag.reading;
  if (reading === undefined) return `${id} not read`;
  if (reading.quality !== "good" || reading.value === null)
    return `${id} bad: ${reading.reason ?? "no value"}`;
  // Ages count from when plantbridge received the value (monotonic), never from the unit's clock.
  if (!tag.subscribed && reading.receivedAt < now - staleAfterMs)
    return `${id} stale (${Math.round(now - reading.receivedAt)} ms old)`;
  return null;
}

function permissiveProblem(
  loop: ControlLoopConfig,
  permissive: TagState | undefined,
  now: number,
): string | null {
  if (loop.permissive === undefined) return null;
  const id = tagId(loop.permissive);
  if (permissive === undefined) return `${id} not read`;
  const problem = readingProblem(loop.permissive, permissive, now, loop.staleAfterMs);
  if (problem !== null) return problem;
  const value = permissive.reading?.value;
  const on = value === true || (typeof value === "number" && value !== 0);
  return on ? null : `${id} is off`;
}

/** One evaluation of the loop: the decision and the updated fail-safe memory. */
export function decideControl(
  loop: ControlLoopConfig,
  transform: LoopTransform,
  input: TagState,
  permissive: TagState | undefined,
  memory: LoopMemory,
  now: number,
): Evaluation {
  let problem = readingProblem(loop.input, input, now, loop.staleAfterMs);
  let transformError: string | undefined;
  let follow: FollowDecision | undefined;
  if (problem === null) {
    const value = input.reading?.value;
    if (typeof value !== "number") {
      problem = `${tagId(loop.input)} is not a number (${String(value)})`;
    } else {
      const result = safeTransform(transform, value);
      if (result.ok) {
        follow = {
          kind: "follow",
          value: result.value,
          input: value,
          rule: result.rule,
          clamped: result.clamped,
        };
      } else {
        transformError = result.error;
        problem = `${tagId(loop.input)} ${value} refused by the transform: ${result.error}`;
      }
    }
  }
  const transformFailing = transformError !== undefined;

  if (follow === undefined || problem !== null) {
    const badSince = memory.badSince ?? now;
    const reason = problem ?? "input unusable";
    const failSafeActive = memory.failSafeActive || now - badSince >= loop.failSafe.afterMs;
    const decision: ControlDecision = failSafeActive
      ? { kind: "fail-safe", value: loop.failSafe.value, reason }
      : { kind: "hold", reason };
    return {
      decision,
      memory: { ...memory, badSince, failSafeActive, transformFailing },
      ...(transformError !== undefined ? { transformError } : {}),
    };
  }

  const followed = withinDeadband(loop, memory.followed, follow) ? (memory.followed ?? follow) : follow;
  const cleared: LoopMemory = { badSince: null, failSafeActive: false, transformFailing, followed };
  const off = permissiveProblem(loop, permissive, now);
  if (off !== null) return { decision: { kind: "permissive-off", reason: off }, memory: cleared };
  return { decision: followed ?? follow, memory: cleared };
}

/** The new input moved less than the loop's deadband from the one the set point follows. */
function withinDeadband(
  loop: ControlLoopConfig,
  followed: LoopMemory["followed"],
  next: FollowDecision,
): boolean {
  return followed !== null && loop.deadband > 0 && Math.abs(next.input - followed.input) < loop.deadband;
}

function safeTransform(
  transform: LoopTransform,
  input: number,
): { ok: true; value: number; rule: string; clamped: boolean } | { ok: false; error: string } {
  try {
    const result = transform(input);
    if (!result.ok) return { ok: false, error: errorMessage(result.error) };
    if (!Number.isFinite(result.value)) return { ok: false, error: `transform gave ${result.value}` };
    return result;
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  }
}

/** The value a decision writes, if any. */
export function decisionValue(decision: ControlDecision | null): number | undefined {
  if (decision === null) return undefined;
  return decision.kind === "follow" || decision.kind === "fail-safe" ? decision.value : undefined;
}

/** What changes between two decisions that deserves a log line (the value only matters for the kind). */
export function decisionKind(decision: ControlDecision | null): string {
  return decision === null ? "none" : decision.kind;
}

/** A one-line description for logs and health: `following METH.h2_demand 12.3 → PEMEL.current_setpoint 37`. */
export function describeDecision(
  loop: ControlLoopConfig,
  decision: ControlDecision,
  badForMs?: number,
): string {
  const output = tagId(loop.output);
  switch (decision.kind) {
    case "follow": {
      const clamped = decision.clamped ? " (clamped)" : "";
      return `following ${tagId(loop.input)} ${round(decision.input)} → ${output} ${decision.value}${clamped}`;
    }
    case "permissive-off":
      return `permissive off (${decision.reason})`;
    case "hold":
      return `holding ${output} (${decision.reason})`;
    case "fail-safe": {
      const since = badForMs !== undefined ? ` for ${Math.round(badForMs / 100) / 10} s` : "";
      return `fail-safe ${output} ${decision.value} (input unusable${since}: ${decision.reason})`;
    }
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
