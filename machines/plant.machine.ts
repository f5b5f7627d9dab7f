/**
 * The plant: parent of one connection per unit, one control machine per loop, the storage
 * machine and one forwarder per historian sink (the forwarder owns its sink's reachability).
 * It wires the tag I/O to the connections (attach on connect, detach on fault), subscribes the
 * pushed tags of a connected unit, and tells loops when their input changed or their output
 * unit came back. SHUTDOWN: stop control and storage → forwarders FLUSH (deadline) → close the
 * links → close the sinks → `stopped` (final). The CLI closes the spool afterwards.
 */
import { assign, enqueueActions, fromPromise, setup } from "xstate";
import type { HistorianSink } from "../adapters/types.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import { errorMessage } from "../lib/errors.ts";
import { connectionMachine } from "./connection.machine.ts";
import { controlMachine } from "./control.machine.ts";
import { forwarderMachine } from "./forwarder.machine.ts";
import { buildPlantContext, type PlantContext, type PlantEvent } from "./plant-context.ts";
import type { PlantInput } from "./plant-deps.ts";
import { plantHealth, readSpoolStats } from "./plant-health.ts";
import { actorIds, loopsFedBy, loopsWritingTo } from "./plant-wiring.ts";
import { storageMachine } from "./storage.machine.ts";
import { unitSubscription } from "./unit-subscription.ts";

export type { PlantHealth } from "./plant-health.ts";
export type { PlantContext, PlantEvent };
export { plantHealth };

const isActive = (actor: { getSnapshot(): { status: string } }) => actor.getSnapshot().status === "active";
const allFinished = (actors: Record<string, { getSnapshot(): { status: string } }>) =>
  Object.values(actors).every((a) => !isActive(a));

export const plantMachine = setup({
  types: {
    input: {} as PlantInput,
    context: {} as PlantContext,
    events: {} as PlantEvent,
  },
  actors: {
    connection: connectionMachine,
    control: controlMachine,
    storage: storageMachine,
    forwarder: forwarderMachine,
    unitSubscription,
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
    attachUnit: ({ context }, params: { unit: string }) => {
      const link = context.links[params.unit];
      if (link !== undefined) context.io.attach(params.unit, link);
    },
    detachUnit: ({ context }, params: { unit: string }) => context.io.detach(params.unit),
    subscribeUnit: enqueueActions(({ context, enqueue }, params: { unit: string }) => {
      const tags = context.io.subscribedTags(params.unit);
      const link = context.links[params.unit];
      if (tags.length === 0 || link === undefined) return;
      enqueue.spawnChild("unitSubscription", {
        id: actorIds.subscription(params.unit),
        input: { unit: params.unit, link, tags, update: context.io.update, log: context.deps.log },
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
    announceInputChanged: enqueueActions(({ context, enqueue }, params: { unit: string; tag: string }) => {
      for (const name of loopsFedBy(context.plant, params.unit, params.tag)) {
        const loop = context.loops[name];
        if (loop !== undefined && isActive(loop)) enqueue.sendTo(loop, { type: "INPUT_CHANGED" });
      }
    }),
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
    logChildFailure: ({ context }, params: { id: string; error: unknown }) =>
      context.deps.log.error(
        { plant: context.plant.name, actor: params.id, reason: errorMessage(params.error) },
        `${params.id} failed: ${errorMessage(params.error)}`,
      ),
    logStopped: ({ context }) =>
      context.deps.log.info({ plant: context.plant.name }, "plant machine stopped"),
  },
  guards: {
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
    buildPlantContext(input, {
      connection: (id, actorInput) => spawn("connection", { id, input: actorInput }),
      control: (id, actorInput) => spawn("control", { id, input: actorInput }),
      storage: (id, actorInput) => spawn("storage", { id, input: actorInput }),
      forwarder: (id, actorInput) => spawn("forwarder", { id, input: actorInput }),
      reportLinkFailure: (unit, error) => self.send({ type: "LINK_FAILURE", unit, error }),
    }),
  on: {
    UNIT_CONNECTED: {
      actions: [
        { type: "attachUnit", params: ({ event }) => ({ unit: event.name }) },
        { type: "subscribeUnit", params: ({ event }) => ({ unit: event.name }) },
        { type: "announceOutputReconnected", params: ({ event }) => ({ unit: event.name }) },
      ],
    },
    UNIT_DISCONNECTED: {
      actions: [
        { type: "detachUnit", params: ({ event }) => ({ unit: event.name }) },
        { type: "unsubscribeUnit", params: ({ event }) => ({ unit: event.name }) },
      ],
    },
    LINK_FAILURE: {
      actions: {
        type: "reportLinkFailure",
        params: ({ event }) => ({ unit: event.unit, error: event.error }),
      },
    },
    TAG_PUSHED: {
      actions: {
        type: "announceInputChanged",
        params: ({ event }) => ({ unit: event.unit, tag: event.tag }),
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
      on: { SHUTDOWN: { target: "stopping", actions: "logShutdown" } },
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
              actions: {
                type: "logChildFailure",
                params: ({ event }) => ({ id: "historian sink", error: event.error }),
              },
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
