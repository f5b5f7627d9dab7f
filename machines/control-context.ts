/**
 * The control machine's context: inputs, counters and the fail-safe memory, and the step that
 * turns one evaluation's readings into the next context (pure, apart from the injected clock).
 */
import type { Reading } from "../adapters/types.ts";
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

export interface ControlInput {
  loop: ControlLoopConfig;
  transform: LoopTransform;
  io: ControlIO;
  now: () => number;
  log: Log;
}

export interface ControlContext extends ControlInput {
  startedAt: number;
  /** The next periodic due time not yet taken. */
  nextDueAt: number;
  evaluations: number;
  writes: number;
  writeFailures: number;
  overruns: number;
  decision: ControlDecision | null;
  /** One-line description of the current decision (health, logs). */
  lastDecision: string | null;
  /** Last value written successfully. */
  lastWritten: number | null;
  failSafeActive: boolean;
  /** Times the fail-safe took over (inactive → active). */
  failSafeActivations: number;
  memory: LoopMemory;
  /** The output unit reconnected: write the current decision once even if unchanged. */
  rewritePending: boolean;
  lastWriteFailed: boolean;
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
  const now = context.now();
  const input = { reading: readings.get(tagId(loop.input)), subscribed: io.isSubscribed(loop.input) };
  const permissive =
    loop.permissive === undefined
      ? undefined
      : { reading: readings.get(tagId(loop.permissive)), subscribed: io.isSubscribed(loop.permissive) };
  const result = decideControl(loop, context.transform, input, permissive, context.memory, now);
  const badForMs = result.memory.badSince === null ? undefined : now - result.memory.badSince;
  let decisionChange: DecisionChange = null;
  if (decisionKind(result.decision) !== decisionKind(context.decision)) decisionChange = "kind";
  else if (decisionValue(result.decision) !== decisionValue(context.decision)) decisionChange = "value";
  const refusalStarted = result.transformError !== undefined && !context.memory.transformFailing;
  return {
    decision: result.decision,
    previousKind: decisionKind(context.decision),
    memory: result.memory,
    failSafeActive: result.memory.failSafeActive,
    failSafeActivations:
      context.failSafeActivations + (result.memory.failSafeActive && !context.memory.failSafeActive ? 1 : 0),
    lastDecision: describeDecision(loop, result.decision, badForMs),
    decisionChange,
    transformRefusal: refusalStarted ? (result.transformError ?? null) : null,
  };
}

export function initialControlContext(input: ControlInput): ControlContext {
  const startedAt = input.now();
  return {
    ...input,
    startedAt,
    nextDueAt: startedAt + input.loop.periodMs,
    evaluations: 0,
    writes: 0,
    writeFailures: 0,
    overruns: 0,
    decision: null,
    lastDecision: null,
    lastWritten: null,
    failSafeActive: false,
    failSafeActivations: 0,
    memory: initialLoopMemory,
    rewritePending: false,
    lastWriteFailed: false,
    changeQueued: false,
    decisionChange: null,
    previousKind: "none",
    transformRefusal: null,
    pendingWrite: null,
  };
}
