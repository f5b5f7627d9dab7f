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
import { type AnyActorRef, assign, enqueueActions, fromPromise, setup } from "xstate";
import type { HistorianSink } from "../adapters/types.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import { errorMessage } from "../lib/errors.ts";
import { connectionMachine } from "./connection.machine.ts";
import { controlMachine } from "./control.machine.ts";
import { forwarderMachine } from "./forwarder.machine.ts";
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
import { childFailure, restartDelay } from "./plant-restarts.ts";
import { actorIds, loopsFedBy, loopsWritingTo } from "./plant-wiring.ts";
import { type PushContext, pushMachine } from "./push.machine.ts";
import { storageMachine } from "./storage.machine.ts";

export type { PlantHealth } from "./plant-health.ts";
export type { PlantContext, PlantEvent, PlantOutput };
export { plantHealth };

const isActive = (actor: { getSnapshot(): { status: string } }) => actor.getSnapshot().status === "active";
const allFinished = (actors: Record<string, { getSnapshot(): { status: string } }>) =>
  Object.values(actors).every((a) => !isActive(a));

function connectedGeneration(context: PlantContext, unit: string): number | undefined {
  const snapshot = context.units[unit]?.getSnapshot();
  if (snapshot === undefined || snapshot.status !== "active" || snapshot.value !== "connected")
    return undefined;
  return snapshot.context.connects;
}

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
    closeSinks: fromPromise<void, readonly HistorianSink[]>(async ({ input }) => {
      const results = await Promise.allSettled(input.map((sink) => sink.close()));
      const failed = results.filter((r) => r.status === "rejected");
      if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;
    }),
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
      const fields = { plant: context.plant.name, actor: params.id, reason, failures };
      if (outcome.fatal !== null) {
        context.deps.log.fatal(fields, `${params.id} failed: ${reason}. ${outcome.fatal}`);
        return;
      }
      const delay = restartDelay({ ...context, ...outcome }, params.id);
      context.deps.log.error(fields, `${params.id} failed: ${reason}; restarting it in ${delay} ms`);
      enqueue.raise({ type: "RESTART_CHILD", id: params.id }, { delay });
    }),
    logChildFailure: ({ context }, params: { id: string; error: unknown }) =>
      context.deps.log.error(
        { plant: context.plant.name, actor: params.id, reason: errorMessage(params.error) },
        `${params.id} failed while the plant stops: ${errorMessage(params.error)}`,
      ),
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
      context.deps.log.info({ actor: spec.id }, `${spec.id} restarted`);
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
    logShutdown: ({ context }) => context.deps.log.info({ plant: context.plant.name }, "plant shutting down"),
    logStep: ({ context }, params: { step: string }) =>
      context.deps.log.info({ plant: context.plant.name }, `shutdown: ${params.step}`),
    logGraceExpired: ({ context }, params: { waitingFor: string }) =>
      context.deps.log.warn(
        { plant: context.plant.name },
        `shutdown: gave up waiting for ${params.waitingFor}`,
      ),
    logSinkCloseFailure: ({ context }, params: { error: unknown }) =>
      context.deps.log.error(
        { plant: context.plant.name, reason: errorMessage(params.error) },
        `closing the historian sinks failed: ${errorMessage(params.error)}`,
      ),
    logStopped: ({ context }) =>
      context.deps.log.info({ plant: context.plant.name, fatal: context.fatal }, "plant machine stopped"),
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
  context: ({ input, spawn, self }) => {
    const current = () => self.getSnapshot().context as PlantContext;
    return buildPlantContext(
      input,
      {
        connection: (unit) => connectedGeneration(current(), unit),
        pushed: (unit) => {
          const child = self.getSnapshot().children[actorIds.subscription(unit)] as AnyActorRef | undefined;
          const snapshot = child?.getSnapshot();
          return snapshot?.status === "active" ? (snapshot.context as PushContext) : undefined;
        },
        reportLinkFailure: (unit, error) => self.send({ type: "LINK_FAILURE", unit, error }),
      },
      (spec) => spawn(spec.kind, { id: spec.id, input: spec.input } as never) as AnyActorRef,
    );
  },
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
        params: ({ event }: { event: { type: string; error?: unknown } }) => ({
          id: event.type.slice("xstate.error.actor.".length),
          error: event.error,
        }),
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
            params: ({ event }: { event: { type: string; error?: unknown } }) => ({
              id: event.type.slice("xstate.error.actor.".length),
              error: event.error,
            }),
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
