/**
 * One control loop: read the input (and permissive), decide (control-decision.ts), write the
 * set point when the decision changed, the output reconnected or the last write failed.
 * Drift-free schedule: the k-th periodic evaluation is due at start + k·period; evaluations
 * never overlap; due times passed while an evaluation ran are skipped and counted as overruns.
 * With `loop.onChange`, `INPUT_CHANGED` evaluates at once (queued once if one is running).
 */
import { assign, fromPromise, setup } from "xstate";
import type { Reading, TagValue } from "../adapters/types.ts";
import { errorMessage } from "../lib/errors.ts";
import type { TagId, TagRef } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import {
  type ControlContext,
  type ControlEvent,
  type ControlInput,
  evaluate,
  initialControlContext,
  loopTags,
} from "./control-context.ts";
import { decisionValue } from "./control-decision.ts";
import type { ControlIO } from "./control-types.ts";
import { delayUntil, planNextSlot } from "./schedule.ts";

export type { ControlContext, ControlEvent, ControlInput };

export const controlMachine = setup({
  types: {
    input: {} as ControlInput,
    context: {} as ControlContext,
    events: {} as ControlEvent,
  },
  actors: {
    readLoopTags: fromPromise<Map<TagId, Reading>, { io: ControlIO; refs: readonly TagRef[] }>(({ input }) =>
      input.io.read(input.refs),
    ),
    writeSetPoint: fromPromise<void, { io: ControlIO; ref: TagRef; value: TagValue }>(({ input }) =>
      input.io.write(input.ref, input.value),
    ),
  },
  actions: {
    planNextEvaluation: assign(({ context }) => {
      const plan = planNextSlot(context.nextDueAt, context.loop.periodMs, context.now());
      return { nextDueAt: plan.nextDueAt, overruns: context.overruns + plan.overruns };
    }),
    takeDueSlot: assign({ nextDueAt: ({ context }) => context.nextDueAt + context.loop.periodMs }),
    takeQueuedChange: assign({ changeQueued: false }),
    queueChange: assign({ changeQueued: true }),
    requestRewrite: assign({ rewritePending: true }),
    countEvaluation: assign({ evaluations: ({ context }) => context.evaluations + 1 }),
    applyReadings: assign(({ context }, params: { readings: ReadonlyMap<TagId, Reading> }) =>
      evaluate(context, params.readings),
    ),
    applyReadFailure: assign(({ context }, params: { error: unknown }) => {
      const reason = errorMessage(params.error);
      const time = context.now();
      const failed = new Map<TagId, Reading>(
        loopTags(context.loop).map((ref) => [tagId(ref), { value: null, quality: "bad", reason, time }]),
      );
      return evaluate(context, failed);
    }),
    logDecisionChange: ({ context }) => {
      const { loop, decision, log } = context;
      if (context.transformRefusal !== null) {
        log.error(
          { loop: loop.name, unit: loop.input.unit, tag: loop.input.tag, reason: context.transformRefusal },
          `${loop.name}: transform refused the input, nothing written: ${context.transformRefusal}`,
        );
      }
      if (context.decisionChange === null || decision === null) return;
      const fields = { loop: loop.name, decision: decision.kind };
      if (context.decisionChange === "value") {
        log.debug(fields, `${loop.name}: ${context.lastDecision}`);
      } else if (decision.kind === "fail-safe" || decision.kind === "hold") {
        log.warn(fields, `${loop.name}: ${context.lastDecision}`);
      } else {
        const resumed = context.previousKind === "hold" || context.previousKind === "fail-safe";
        log.info(fields, `${loop.name}: ${resumed ? "resumed, " : ""}${context.lastDecision}`);
      }
    },
    prepareWrite: assign({ pendingWrite: ({ context }) => decisionValue(context.decision) ?? null }),
    logWriteRecovered: ({ context }) => {
      if (!context.lastWriteFailed) return;
      context.log.info(
        { loop: context.loop.name },
        `${context.loop.name}: write of ${tagId(context.loop.output)} recovered`,
      );
    },
    recordWrite: assign(({ context }) => ({
      writes: context.writes + 1,
      lastWritten: context.pendingWrite,
      rewritePending: false,
      lastWriteFailed: false,
      pendingWrite: null,
    })),
    logWriteFailure: ({ context }, params: { error: unknown }) => {
      const { loop } = context;
      const reason = errorMessage(params.error);
      context.log[context.lastWriteFailed ? "debug" : "warn"](
        { loop: loop.name, unit: loop.output.unit, tag: loop.output.tag, reason },
        `${loop.name}: write of ${context.pendingWrite} to ${tagId(loop.output)} failed, retrying next evaluation: ${reason}`,
      );
    },
    recordWriteFailure: assign(({ context }) => ({
      writeFailures: context.writeFailures + 1,
      lastWriteFailed: true,
      pendingWrite: null,
    })),
    logStopped: ({ context }) => {
      context.log.info({ loop: context.loop.name }, `${context.loop.name}: stopped`);
    },
  },
  guards: {
    changeQueued: ({ context }) => context.changeQueued,
    evaluationDue: ({ context }) => context.now() >= context.nextDueAt,
    evaluatesOnChange: ({ context }) => context.loop.onChange,
    writeNeeded: ({ context }) => {
      const value = decisionValue(context.decision);
      if (value === undefined || !context.io.isAttached(context.loop.output.unit)) return false;
      return value !== context.lastWritten || context.rewritePending || context.lastWriteFailed;
    },
  },
  delays: {
    untilDue: ({ context }) => delayUntil(context.nextDueAt, context.now()),
  },
}).createMachine({
  id: "control",
  initial: "waiting",
  context: ({ input }) => initialControlContext(input),
  on: {
    SHUTDOWN: ".stopped",
    OUTPUT_RECONNECTED: { actions: "requestRewrite" },
  },
  states: {
    waiting: {
      entry: "planNextEvaluation",
      always: [
        { guard: "changeQueued", target: "evaluating", actions: "takeQueuedChange" },
        { guard: "evaluationDue", target: "evaluating", actions: "takeDueSlot" },
      ],
      after: { untilDue: { target: "evaluating", actions: "takeDueSlot" } },
      on: { INPUT_CHANGED: { guard: "evaluatesOnChange", target: "evaluating" } },
    },
    evaluating: {
      entry: "countEvaluation",
      initial: "reading",
      on: { INPUT_CHANGED: { guard: "evaluatesOnChange", actions: "queueChange" } },
      states: {
        reading: {
          invoke: {
            id: "readLoopTags",
            src: "readLoopTags",
            input: ({ context }) => ({ io: context.io, refs: loopTags(context.loop) }),
            onDone: {
              target: "deciding",
              actions: [
                { type: "applyReadings", params: ({ event }) => ({ readings: event.output }) },
                "logDecisionChange",
              ],
            },
            onError: {
              target: "deciding",
              actions: [
                { type: "applyReadFailure", params: ({ event }) => ({ error: event.error }) },
                "logDecisionChange",
              ],
            },
          },
        },
        deciding: {
          always: [
            { guard: "writeNeeded", target: "writing", actions: "prepareWrite" },
            { target: "#control.waiting" },
          ],
        },
        writing: {
          invoke: {
            id: "writeSetPoint",
            src: "writeSetPoint",
            input: ({ context }) => ({
              io: context.io,
              ref: context.loop.output,
              value: context.pendingWrite ?? 0,
            }),
            onDone: { target: "#control.waiting", actions: ["logWriteRecovered", "recordWrite"] },
            onError: {
              target: "#control.waiting",
              actions: [
                { type: "logWriteFailure", params: ({ event }) => ({ error: event.error }) },
                "recordWriteFailure",
              ],
            },
          },
        },
      },
    },
    stopped: {
      type: "final",
      entry: "logStopped",
    },
  },
});
