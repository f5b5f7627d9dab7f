/**
 * The control machine's context: inputs, counters, the fail-safe and write memories, and the step
 * that turns one evaluation's readings into the next context (pure, apart from the injected clock).
 */
import type { Reading } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import type { Log } from "../lib/log.ts";
import type { ControlLoopConfig, TagId, TagRef } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import {
  decideControl,
  decisionKind,
  decisionValue,
  describeDecision,
  initialLoopMemory,
} from "./control-decision.ts";
import type { ControlDecision, ControlIO, LoopMemory, LoopTransform } from "./control-types.ts";
import { initialWriteState, type WritePlan, type WriteState } from "./control-write-policy.ts";
import type { FailureEpisode } from "./failure-episode.ts";
import { type ChangeMemory, judgeFreshness, noChangeMemory } from "./freshness.ts";

export interface ControlInput {
  loop: ControlLoopConfig;
  transform: LoopTransform;
  io: ControlIO;
  clock: Clock;
  log: Log;
}

export interface ControlContext extends ControlInput {
  /** The next periodic due time not yet taken (monotonic ms). */
  nextDueAt: number;
  /** An extra wake-up for the write policy (a deferred write, a reassert), monotonic ms. */
  writeWakeAt: number | null;
  evaluations: number;
  writes: number;
  writeFailures: number;
  /** Times the fail-safe took over (a run of bad input that reached its limit). */
  failSafeActivations: number;
  overruns: number;
  decision: ControlDecision | null;
  /** One-line description of the current decision (health, logs). */
  lastDecision: string | null;
  /** The input value of the last evaluation, and whether the permissive was on (health). */
  lastInput: number | null;
  failSafeActive: boolean;
  memory: LoopMemory;
  /** When each tag with a max age last changed (frozen values count as stale). */
  changes: ChangeMemory;
  write: WriteState;
  plan: WritePlan;
  /** The output unit reconnected: write the current decision once even if unchanged. */
  rewritePending: boolean;
  lastWriteFailed: boolean;
  /** A run of failed writes, for loud but bounded logging. */
  writeEpisode: FailureEpisode | null;
  /** An INPUT_CHANGED arrived during an evaluation: evaluate again right after it. */
  changeQueued: boolean;
  /** What changed at the last evaluation: the kind is logged at info/warn, a new value at debug. */
  decisionChange: DecisionChange;
  previousKind: string;
  /** The transform started refusing the input at the last evaluation (logged once per run). */
  transformRefusal: string | null;
  pendingWrite: number | null;
}

export type DecisionChange = "kind" | "value" | null;

export type ControlEvent = { type: "INPUT_CHANGED" } | { type: "OUTPUT_RECONNECTED" } | { type: "SHUTDOWN" };

export function loopTags(loop: ControlLoopConfig): TagRef[] {
  return loop.permissive === undefined ? [loop.input] : [loop.input, loop.permissive];
}

export function evaluate(
  context: ControlContext,
  readings: ReadonlyMap<TagId, Reading>,
): Partial<ControlContext> {
  const { loop, io } = context;
  const now = context.clock.monotonic();
  const fresh = judgeFreshness(readings, context.changes, io.maxAgeOf, now);
  const input = { reading: fresh.readings.get(tagId(loop.input)), subscribed: io.isSubscribed(loop.input) };
  const permissive =
    loop.permissive === undefined
      ? undefined
      : { reading: fresh.readings.get(tagId(loop.permissive)), subscribed: io.isSubscribed(loop.permissive) };
  const result = decideControl(loop, context.transform, input, permissive, context.memory, now);
  const badForMs = result.memory.badSince === null ? undefined : now - result.memory.badSince;
  let decisionChange: DecisionChange = null;
  if (decisionKind(result.decision) !== decisionKind(context.decision)) decisionChange = "kind";
  else if (decisionValue(result.decision) !== decisionValue(context.decision)) decisionChange = "value";
  const refusalStarted = result.transformError !== undefined && !context.memory.transformFailing;
  const inputValue = input.reading?.value;
  const failSafeStarted = result.memory.failSafeActive && !context.memory.failSafeActive;
  return {
    decision: result.decision,
    previousKind: decisionKind(context.decision),
    memory: result.memory,
    changes: fresh.memory,
    failSafeActive: result.memory.failSafeActive,
    failSafeActivations: context.failSafeActivations + (failSafeStarted ? 1 : 0),
    lastDecision: describeDecision(loop, result.decision, badForMs),
    lastInput: typeof inputValue === "number" ? inputValue : null,
    decisionChange,
    transformRefusal: refusalStarted ? (result.transformError ?? null) : null,
  };
}

export function initialControlContext(input: ControlInput): ControlContext {
  return {
    ...input,
    nextDueAt: input.clock.monotonic() + input.loop.periodMs,
    writeWakeAt: null,
    evaluations: 0,
    writes: 0,
    writeFailures: 0,
    failSafeActivations: 0,
    overruns: 0,
    decision: null,
    lastDecision: null,
    lastInput: null,
    failSafeActive: false,
    memory: initialLoopMemory,
    changes: noChangeMemory,
    write: initialWriteState,
    plan: { kind: "none", ramp: null },
    rewritePending: false,
    lastWriteFailed: false,
    writeEpisode: null,
    changeQueued: false,
    decisionChange: null,
    previousKind: "none",
    transformRefusal: null,
    pendingWrite: null,
  };
}
