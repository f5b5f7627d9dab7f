/**
 * The plant: parent of one connection per unit, one push machine per connected unit with
 * subscribed tags, one control machine per loop, the storage machine and one forwarder per
 * historian sink (the forwarder owns its sink's reachability). It subscribes a connected unit's
 * pushed tags and tells loops when their input changed or their output unit came back.
 *
 * A child that fails (an error it did not handle itself) is spawned again with backoff; one that
 * fails `childRestartLimit` times within `childRestartWindowMs` ends the plant: it stops cleanly
 * (final flush, links closed) and its output names the failure, so the CLI exits non-zero and the
 * supervisor (systemd) restarts the process.
 *
 * SHUTDOWN: stop control and storage → forwarders FLUSH (deadline) → close the links → close the
 * sinks → `stopped` (final). The CLI closes the spool afterwards.
 */
import { type AnyActorRef, assign, enqueueActions, setup } from "xstate";
import type { PlantbridgeError } from "../lib/errors.ts";
import { errorMessage } from "../lib/errors.ts";
import { connectionMachine } from "./connection.machine.ts";
import { controlMachine } from "./control.machine.ts";
import { forwarderMachine } from "./forwarder.machine.ts";
import {
  allFinished,
  closeSinks,
  connectedGeneration,
  failedChild,
  isActive,
  plantLookups,
} from "./plant-children.ts";
import {
  buildPlantContext,
  type ChildSpec,
  type PlantContext,
  type PlantEvent,
  type PlantOutput,
  placeChild,
} from "./plant-context.ts";
import type { PlantInput } from "./plant-deps.ts";
import { plantHealth, readSpoolStats } from "./plant-health.ts";
import {
  logChildFailed,
  logChildFailureWhileStopping,
  logChildRestarted,
  logGraceExpired,
  logShutdown,
  logSinkCloseFailure,
  logStep,
  logStopped,
} from "./plant-logging.ts";
import { childFailure, restartDelay } from "./plant-restarts.ts";
import { actorIds, loopsFedBy, loopsWritingTo } from "./plant-wiring.ts";
import { pushMachine } from "./push.machine.ts";
import { storageMachine } from "./storage.machine.ts";

export type { PlantHealth } from "./plant-health.ts";
export type { PlantContext, PlantEvent, PlantOutput };
export { plantHealth };

export const plantMachine = setup({
  types: {
    input: {} as PlantInput,
    context: {} as PlantContext,
    events: {} as PlantEvent,
    output: {} as PlantOutput,
  },
  actors: {
    connection: connectionMachine,
    control: controlMachine,
    storage: storageMachine,
    forwarder: forwarderMachine,
    push: pushMachine,
    closeSinks,
  },
  actions: {
    connectUnits: enqueueActions(({ context, enqueue }) => {
      for (const unit of Object.values(context.units)) enqueue.sendTo(unit, { type: "CONNECT" });
    }),
    subscribeUnit: enqueueActions(({ context, enqueue }, params: { unit: string }) => {
      const tags = context.io.subscribedTags(params.unit);
      const link = context.links[params.unit];
      const unit = context.plant.units.find((u) => u.name === params.unit);
      if (tags.length === 0 || link === undefined || unit === undefined) return;
      const { clock, random, log } = context.deps;
      enqueue.stopChild(actorIds.subscription(params.unit));
      enqueue.spawnChild("push", {
        id: actorIds.subscription(params.unit),
        input: { unit: params.unit, link, tags, retry: unit.reconnect, random, clock, log },
      });
    }),
    unsubscribeUnit: enqueueActions(({ enqueue }, params: { unit: string }) => {
      enqueue.stopChild(actorIds.subscription(params.unit));
    }),
    announceOutputReconnected: enqueueActions(({ context, enqueue }, params: { unit: string }) => {
      for (const name of loopsWritingTo(context.plant, params.unit)) {
        const loop = context.loops[name];
        if (loop !== undefined && isActive(loop)) enqueue.sendTo(loop, { type: "OUTPUT_RECONNECTED" });
      }
    }),
    announceInputChanged: enqueueActions(
      ({ context, enqueue }, params: { unit: string; tags: readonly string[] }) => {
        const names = new Set<string>();
        for (const tag of params.tags)
          for (const name of loopsFedBy(context.plant, params.unit, tag)) names.add(name);
        for (const name of names) {
          const loop = context.loops[name];
          if (loop !== undefined && isActive(loop)) enqueue.sendTo(loop, { type: "INPUT_CHANGED" });
        }
      },
    ),
    reportLinkFailure: enqueueActions(
      ({ context, enqueue }, params: { unit: string; error: PlantbridgeError }) => {
        const unit = context.units[params.unit];
        if (unit !== undefined && isActive(unit))
          enqueue.sendTo(unit, { type: "REPORT_FAILURE", error: params.error });
      },
    ),
    nudgeForwarders: enqueueActions(({ context, enqueue }) => {
      for (const forwarder of Object.values(context.forwarders))
        if (isActive(forwarder)) enqueue.sendTo(forwarder, { type: "SAMPLES_APPENDED" });
    }),
    handleChildFailure: enqueueActions(({ context, enqueue }, params: { id: string; error: unknown }) => {
      const reason = errorMessage(params.error);
      const outcome = childFailure(context, params.id, reason, context.deps.clock.monotonic());
      enqueue.assign(outcome);
      const failures = outcome.restarts[params.id]?.failures.length ?? 1;
      const { fatal } = outcome;
      const delay = fatal === null ? restartDelay({ ...context, ...outcome }, params.id) : 0;
      enqueue(() => logChildFailed(context, { id: params.id, reason, failures, fatal, delay }));
      if (fatal === null) enqueue.raise({ type: "RESTART_CHILD", id: params.id }, { delay });
    }),
    logChildFailure: ({ context }, params: { id: string; error: unknown }) =>
      logChildFailureWhileStopping(context, params.id, params.error),
    restartChild: enqueueActions(({ context, enqueue }, params: { id: string }) => {
      const spec: ChildSpec | undefined = context.specs[params.id];
      if (spec === undefined) {
        // A unit's push machine: spawned again if its unit is connected.
        const unit = params.id.slice(actorIds.subscription("").length);
        if (connectedGeneration(context, unit) !== undefined)
          enqueue.raise({ type: "UNIT_CONNECTED", name: unit });
        return;
      }
      enqueue.stopChild(spec.id);
      enqueue.assign(({ context: c, spawn }) =>
        placeChild(c, spec, spawn(spec.kind, { id: spec.id, input: spec.input } as never) as AnyActorRef),
      );
      if (spec.kind === "connection")
        enqueue.sendTo(({ context: c }) => c.units[spec.input.name] ?? spec.id, { type: "CONNECT" });
      enqueue(() => logChildRestarted(context, spec.id));
    }),
    stopControlAndStorage: enqueueActions(({ context, enqueue }) => {
      for (const loop of Object.values(context.loops))
        if (isActive(loop)) enqueue.sendTo(loop, { type: "SHUTDOWN" });
      if (isActive(context.storage)) enqueue.sendTo(context.storage, { type: "SHUTDOWN" });
    }),
    flushForwarders: enqueueActions(({ context, enqueue }) => {
      for (const forwarder of Object.values(context.forwarders))
        if (isActive(forwarder))
          enqueue.sendTo(forwarder, { type: "FLUSH", deadlineMs: context.shutdownFlushMs });
    }),
    closeUnits: enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.units)) enqueue.stopChild(actorIds.subscription(name));
      for (const unit of Object.values(context.units))
        if (isActive(unit)) enqueue.sendTo(unit, { type: "SHUTDOWN" });
    }),
    recordFinalSpoolStats: assign({ finalSpoolStats: ({ context }) => readSpoolStats(context.deps.spool) }),
    logShutdown: ({ context }) => logShutdown(context),
    logStep: ({ context }, params: { step: string }) => logStep(context, params.step),
    logGraceExpired: ({ context }, params: { waitingFor: string }) =>
      logGraceExpired(context, params.waitingFor),
    logSinkCloseFailure: ({ context }, params: { error: unknown }) =>
      logSinkCloseFailure(context, params.error),
    logStopped: ({ context }) => logStopped(context),
  },
  guards: {
    fatal: ({ context }) => context.fatal !== null,
    workStopped: ({ context }) => allFinished(context.loops) && !isActive(context.storage),
    forwardersFlushed: ({ context }) => allFinished(context.forwarders),
    unitsClosed: ({ context }) => allFinished(context.units),
  },
  delays: {
    flushGrace: ({ context }) => context.shutdownFlushMs + context.closeGraceMs,
    closeGrace: ({ context }) => context.closeGraceMs,
  },
}).createMachine({
  id: "plant",
  initial: "running",
  context: ({ input, spawn, self }) =>
    buildPlantContext(
      input,
      plantLookups(self),
      (spec) => spawn(spec.kind, { id: spec.id, input: spec.input } as never) as AnyActorRef,
    ),
  output: ({ context }) => ({ fatal: context.fatal }),
  on: {
    UNIT_CONNECTED: {
      actions: [
        { type: "subscribeUnit", params: ({ event }) => ({ unit: event.name }) },
        { type: "announceOutputReconnected", params: ({ event }) => ({ unit: event.name }) },
      ],
    },
    UNIT_DISCONNECTED: {
      actions: { type: "unsubscribeUnit", params: ({ event }) => ({ unit: event.name }) },
    },
    LINK_FAILURE: {
      actions: {
        type: "reportLinkFailure",
        params: ({ event }) => ({ unit: event.unit, error: event.error }),
      },
    },
    TAGS_PUSHED: {
      actions: {
        type: "announceInputChanged",
        params: ({ event }) => ({ unit: event.unit, tags: event.tags }),
      },
    },
    SAMPLES_STORED: { actions: "nudgeForwarders" },
    "xstate.error.actor.*": {
      actions: {
        type: "logChildFailure",
        params: failedChild,
      },
    },
  },
  states: {
    running: {
      entry: "connectUnits",
      on: {
        SHUTDOWN: { target: "stopping", actions: "logShutdown" },
        RESTART_CHILD: { actions: { type: "restartChild", params: ({ event }) => ({ id: event.id }) } },
        "xstate.error.actor.*": {
          actions: {
            type: "handleChildFailure",
            params: failedChild,
          },
        },
      },
      always: { guard: "fatal", target: "stopping" },
    },
    stopping: {
      initial: "stoppingWork",
      states: {
        stoppingWork: {
          entry: "stopControlAndStorage",
          always: { guard: "workStopped", target: "flushing" },
        },
        flushing: {
          entry: [
            { type: "logStep", params: { step: "flushing the spool to the historian" } },
            "flushForwarders",
          ],
          always: { guard: "forwardersFlushed", target: "closingLinks" },
          after: {
            flushGrace: {
              target: "closingLinks",
              actions: { type: "logGraceExpired", params: { waitingFor: "the forwarders" } },
            },
          },
        },
        closingLinks: {
          entry: [{ type: "logStep", params: { step: "closing unit links" } }, "closeUnits"],
          always: { guard: "unitsClosed", target: "closingSinks" },
          after: {
            closeGrace: {
              target: "closingSinks",
              actions: { type: "logGraceExpired", params: { waitingFor: "the links" } },
            },
          },
        },
        closingSinks: {
          invoke: {
            id: "closeSinks",
            src: "closeSinks",
            input: ({ context }) => context.deps.sinks,
            onDone: "#plant.stopped",
            onError: {
              target: "#plant.stopped",
              actions: { type: "logSinkCloseFailure", params: ({ event }) => ({ error: event.error }) },
            },
          },
          after: {
            closeGrace: {
              target: "#plant.stopped",
              actions: { type: "logGraceExpired", params: { waitingFor: "the historian sinks" } },
            },
          },
        },
      },
    },
    stopped: {
      type: "final",
      entry: ["recordFinalSpoolStats", "logStopped"],
    },
  },
});
