/**
 * The plant machine's context: the links, the tag I/O, and one child actor per unit, loop,
 * storage and sink, created from the plant config when the plant starts. Each child is spawned
 * from a spec (kind, id, input) the plant keeps, so a child that fails can be spawned again.
 */
import type { ActorRefFrom, AnyActorRef } from "xstate";
import type { SpoolStats, UnitLink } from "../adapters/types.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import type { PlantConfig, ReconnectConfig } from "../schemas/plant-types.ts";
import type { ConnectionInput, connectionMachine } from "./connection.machine.ts";
import type { ControlInput, controlMachine } from "./control.machine.ts";
import type { ForwarderInput, forwarderMachine } from "./forwarder.machine.ts";
import { type PlantDeps, type PlantInput, plantDefaults } from "./plant-deps.ts";
import { actorIds, storedTagInfos, transformFor } from "./plant-wiring.ts";
import type { PushContext } from "./push.machine.ts";
import type { StorageInput, storageMachine } from "./storage.machine.ts";
import { createTagIO, type TagIO } from "./tag-io.ts";

/** A child the plant spawns, and spawns again after it failed. */
export type ChildSpec =
  | { kind: "connection"; id: string; input: ConnectionInput }
  | { kind: "control"; id: string; input: ControlInput }
  | { kind: "storage"; id: string; input: StorageInput }
  | { kind: "forwarder"; id: string; input: ForwarderInput };

/** Failures of one child within the restart window. */
export interface ChildRestarts {
  /** Monotonic ms of each failure still inside the window. */
  failures: readonly number[];
  /** Restarts done so far (drives the backoff). */
  restarts: number;
}

export interface PlantContext {
  plant: PlantConfig;
  deps: PlantDeps;
  shutdownFlushMs: number;
  closeGraceMs: number;
  childRestart: ReconnectConfig;
  childRestartLimit: number;
  childRestartWindowMs: number;
  io: TagIO;
  links: Record<string, UnitLink>;
  specs: Record<string, ChildSpec>;
  units: Record<string, ActorRefFrom<typeof connectionMachine>>;
  loops: Record<string, ActorRefFrom<typeof controlMachine>>;
  storage: ActorRefFrom<typeof storageMachine>;
  forwarders: Record<string, ActorRefFrom<typeof forwarderMachine>>;
  restarts: Record<string, ChildRestarts>;
  /** Why the plant is ending on its own (a child that keeps failing); null for a requested stop. */
  fatal: string | null;
  /** Spool figures taken when the plant stopped (the CLI closes the spool afterwards). */
  finalSpoolStats: SpoolStats | null;
}

export type PlantEvent =
  | { type: "SHUTDOWN" }
  | { type: "UNIT_CONNECTED"; name: string }
  | { type: "UNIT_DISCONNECTED"; name: string }
  | { type: "LINK_FAILURE"; unit: string; error: PlantbridgeError }
  | { type: "TAGS_PUSHED"; unit: string; tags: readonly string[] }
  | { type: "SAMPLES_STORED"; count: number }
  | { type: "RESTART_CHILD"; id: string };

export interface PlantOutput {
  /** Set when the plant ended on its own because a part of it kept failing. */
  fatal: string | null;
}

/** Spawns a child from its spec (the machine passes XState's `spawn`). */
export type SpawnChild = (spec: ChildSpec) => AnyActorRef;

/** Where the tag I/O finds the live state of units (their actors' snapshots). */
export interface PlantLookups {
  connection(unit: string): number | undefined;
  pushed(unit: string): PushContext | undefined;
  reportLinkFailure(unit: string, error: PlantbridgeError): void;
}

export function childSpecs(input: PlantInput, io: TagIO, links: Record<string, UnitLink>): ChildSpec[] {
  const { plant, deps } = input;
  const { clock, random, log } = deps;
  const specs: ChildSpec[] = [];
  for (const unit of plant.units) {
    const link = links[unit.name];
    if (link === undefined) continue;
    specs.push({
      kind: "connection",
      id: actorIds.unit(unit.name),
      input: { name: unit.name, link, reconnect: unit.reconnect, random, clock, log },
    });
  }
  for (const loop of plant.control) {
    const transform = transformFor(deps.transforms, loop.name);
    specs.push({ kind: "control", id: actorIds.loop(loop.name), input: { loop, transform, io, clock, log } });
  }
  specs.push({
    kind: "storage",
    id: actorIds.storage,
    input: { storage: plant.storage, io, spool: deps.spool, clock, log },
  });
  const retry: ReconnectConfig = input.historianRetry ?? plantDefaults.historianRetry;
  const tags = storedTagInfos(plant);
  for (const sink of deps.sinks) {
    specs.push({
      kind: "forwarder",
      id: actorIds.forwarder(sink.name),
      input: {
        spool: deps.spool,
        sink,
        batchSize: plant.storage.spool.batchSize,
        idleDelayMs: input.forwarderIdleMs ?? plantDefaults.forwarderIdleMs,
        retry,
        random,
        log,
        clock,
        tags,
      },
    });
  }
  return specs;
}

export function buildPlantContext(
  input: PlantInput,
  lookups: PlantLookups,
  spawnChild: SpawnChild,
): PlantContext {
  const { plant, deps } = input;
  const links: Record<string, UnitLink> = {};
  for (const unit of plant.units) links[unit.name] = deps.createLink(unit);
  const io = createTagIO({
    units: plant.units,
    clock: deps.clock,
    log: deps.log,
    link: (unit) => links[unit],
    connection: lookups.connection,
    pushed: lookups.pushed,
    onLinkFailure: lookups.reportLinkFailure,
  });
  const specs: Record<string, ChildSpec> = {};
  const context: Omit<PlantContext, "storage"> & { storage?: PlantContext["storage"] } = {
    plant,
    deps,
    shutdownFlushMs: input.shutdownFlushMs ?? plantDefaults.shutdownFlushMs,
    closeGraceMs: input.closeGraceMs ?? plantDefaults.closeGraceMs,
    childRestart: input.childRestart ?? plantDefaults.childRestart,
    childRestartLimit: input.childRestartLimit ?? plantDefaults.childRestartLimit,
    childRestartWindowMs: input.childRestartWindowMs ?? plantDefaults.childRestartWindowMs,
    io,
    links,
    specs,
    units: {},
    loops: {},
    forwarders: {},
    restarts: {},
    fatal: null,
    finalSpoolStats: null,
  };
  for (const spec of childSpecs(input, io, links)) {
    specs[spec.id] = spec;
    Object.assign(context, placeChild(context as PlantContext, spec, spawnChild(spec)));
  }
  return context as PlantContext;
}

/** The context fields that hold a freshly spawned child (its first spawn or a restart). */
export function placeChild(context: PlantContext, spec: ChildSpec, ref: AnyActorRef): Partial<PlantContext> {
  switch (spec.kind) {
    case "connection":
      return { units: { ...context.units, [spec.input.name]: ref as PlantContext["units"][string] } };
    case "control":
      return { loops: { ...context.loops, [spec.input.loop.name]: ref as PlantContext["loops"][string] } };
    case "storage":
      return { storage: ref as PlantContext["storage"] };
    case "forwarder":
      return {
        forwarders: {
          ...context.forwarders,
          [spec.input.sink.name]: ref as PlantContext["forwarders"][string],
        },
      };
  }
}
