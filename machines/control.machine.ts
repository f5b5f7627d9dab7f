/**
 * One control loop: read the input (and permissive), decide (control-decision.ts), plan the write
 * (control-write-policy.ts: ramp, minimum write interval, reassert), write.
 * Drift-free schedule on the monotonic clock: the k-th periodic evaluation is due at
 * start + k·period; evaluations never overlap; due times passed while an evaluation ran are skipped
 * and counted as overruns. With `loop.onChange`, `INPUT_CHANGED` evaluates at once (queued once if
 * one is running). A deferred write or a reassert wakes the loop for an extra evaluation.
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
import type { ControlIO } from "./control-types.ts";
import { nextWriteWake, planWrite } from "./control-write-policy.ts";
import { describeDuration, noteFailure, noteRecovery } from "./failure-episode.ts";
import { delayUntil, planNextSlot } from "./schedule.ts";

export type { ControlContext, ControlEvent, ControlInput };

const now = (context: ControlContext) => context.clock.monotonic();

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
      const plan = planNextSlot(context.nextDueAt, context.loop.periodMs, now(context));
      return { nextDueAt: plan.nextDueAt, overruns: context.overruns + plan.overruns };
    }),
    takeDueSlot: assign(({ context }) =>
      now(context) >= context.nextDueAt ? { nextDueAt: context.nextDueAt + context.loop.periodMs } : {},
    ),
    takeQueuedChange: assign({ changeQueued: false }),
    queueChange: assign({ changeQueued: true }),
    requestRewrite: assign({ rewritePending: true }),
    countEvaluation: assign({ evaluations: ({ context }) => context.evaluations + 1 }),
    applyReadings: assign(({ context }, params: { readings: ReadonlyMap<TagId, Reading> }) =>
      evaluate(context, params.readings),
    ),
    applyReadFailure: assign(({ context }, params: { error: unknown }) => {
      const reason = errorMessage(params.error);
      const at = { time: context.clock.wall(), receivedAt: now(context) };
      const failed = new Map<TagId, Reading>(
        loopTags(context.loop).map((ref) => [tagId(ref), { value: null, quality: "bad", reason, ...at }]),
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
    planWrite: assign(({ context }) => {
      const flags = {
        attached: context.io.isAttached(context.loop.output.unit),
        rewritePending: context.rewritePending,
        lastWriteFailed: context.lastWriteFailed,
      };
      const plan = planWrite(context.loop, context.decision, context.write, flags, now(context));
      return {
        plan,
        write: { ...context.write, ramp: plan.ramp },
        writeWakeAt: nextWriteWake(context.loop, plan, context.write, now(context)),
        pendingWrite: plan.kind === "write" ? plan.value : null,
      };
    }),
    logWriteRecovered: ({ context }) => {
      const ended = noteRecovery(context.writeEpisode, now(context));
      if (ended.kind !== "ended") return;
      context.log.info(
        { loop: context.loop.name, failures: ended.episode.failures },
        `${context.loop.name}: write of ${tagId(context.loop.output)} recovered after ${describeDuration(ended.forMs)} (${ended.episode.failures} failed)`,
      );
    },
    recordWrite: assign(({ context }) => {
      const at = now(context);
      const write = { ...context.write, lastWritten: context.pendingWrite, lastWriteAt: at };
      return {
        writes: context.writes + 1,
        write,
        writeWakeAt: nextWriteWake(context.loop, { kind: "none", ramp: null }, write, at),
        rewritePending: false,
        lastWriteFailed: false,
        writeEpisode: null,
        pendingWrite: null,
      };
    }),
    recordWriteFailure: assign(({ context }, params: { error: unknown }) => {
      const at = now(context);
      const noted = noteFailure(context.writeEpisode, at, errorMessage(params.error));
      return {
        writeFailures: context.writeFailures + 1,
        lastWriteFailed: true,
        write: { ...context.write, lastWriteAt: at },
        writeEpisode: noted.episode,
      };
    }),
    logWriteFailure: ({ context }) => {
      const { loop, writeEpisode: episode } = context;
      if (episode === null) return;
      const fields = {
        loop: loop.name,
        unit: loop.output.unit,
        tag: loop.output.tag,
        reason: episode.lastReason,
      };
      const message = `${loop.name}: write of ${context.pendingWrite} to ${tagId(loop.output)} failed, retrying next evaluation: ${episode.lastReason}`;
      if (episode.failures === 1) context.log.warn(fields, message);
      else if (episode.loggedAt === now(context))
        context.log.warn(
          { ...fields, failures: episode.failures },
          `${message} (failing for ${describeDuration(now(context) - episode.since)}, ${episode.failures} attempts)`,
        );
      else context.log.debug(fields, message);
    },
    clearPendingWrite: assign({ pendingWrite: null }),
    logStopped: ({ context }) => {
      context.log.info({ loop: context.loop.name }, `${context.loop.name}: stopped`);
    },
  },
  guards: {
    changeQueued: ({ context }) => context.changeQueued,
    wakeDue: ({ context }) =>
      now(context) >= Math.min(context.nextDueAt, context.writeWakeAt ?? Number.POSITIVE_INFINITY),
    evaluatesOnChange: ({ context }) => context.loop.onChange,
    writePlanned: ({ context }) => context.plan.kind === "write",
  },
  delays: {
    untilWake: ({ context }) =>
      delayUntil(Math.min(context.nextDueAt, context.writeWakeAt ?? Number.POSITIVE_INFINITY), now(context)),
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
        { guard: "wakeDue", target: "evaluating", actions: "takeDueSlot" },
      ],
      after: { untilWake: { target: "evaluating", actions: "takeDueSlot" } },
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
          entry: "planWrite",
          always: [{ guard: "writePlanned", target: "writing" }, { target: "#control.waiting" }],
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
                { type: "recordWriteFailure", params: ({ event }) => ({ error: event.error }) },
                "logWriteFailure",
                "clearPendingWrite",
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
