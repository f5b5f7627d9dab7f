/**
 * The plant machine's context: the tag I/O, the links, and one child actor per unit, loop,
 * storage and sink, created from the plant config when the plant starts.
 */
import type { ActorRefFrom } from "xstate";
import type { SpoolStats, UnitLink } from "../adapters/types.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import type { PlantConfig, ReconnectConfig } from "../schemas/plant-types.ts";
import type { ConnectionInput, connectionMachine } from "./connection.machine.ts";
import type { ControlInput, controlMachine } from "./control.machine.ts";
import type { ForwarderInput, forwarderMachine } from "./forwarder.machine.ts";
import { type PlantDeps, type PlantInput, plantDefaults } from "./plant-deps.ts";
import { actorIds, storedTagInfos, transformFor } from "./plant-wiring.ts";
import type { StorageInput, storageMachine } from "./storage.machine.ts";
import { createTagIO, type TagIO } from "./tag-io.ts";

export interface PlantContext {
  plant: PlantConfig;
  deps: PlantDeps;
  shutdownFlushMs: number;
  closeGraceMs: number;
  io: TagIO;
  links: Record<string, UnitLink>;
  units: Record<string, ActorRefFrom<typeof connectionMachine>>;
  loops: Record<string, ActorRefFrom<typeof controlMachine>>;
  storage: ActorRefFrom<typeof storageMachine>;
  forwarders: Record<string, ActorRefFrom<typeof forwarderMachine>>;
  /** Spool figures taken when the plant stopped (the CLI closes the spool afterwards). */
  finalSpoolStats: SpoolStats | null;
}

export type PlantEvent =
  | { type: "SHUTDOWN" }
  | { type: "UNIT_CONNECTED"; name: string }
  | { type: "UNIT_DISCONNECTED"; name: string }
  | { type: "LINK_FAILURE"; unit: string; error: PlantbridgeError }
  | { type: "TAG_PUSHED"; unit: string; tag: string }
  | { type: "SAMPLES_STORED"; count: number };

/** Spawns the plant's children (the machine passes XState's `spawn`). */
export interface PlantSpawner {
  connection(id: string, input: ConnectionInput): ActorRefFrom<typeof connectionMachine>;
  control(id: string, input: ControlInput): ActorRefFrom<typeof controlMachine>;
  storage(id: string, input: StorageInput): ActorRefFrom<typeof storageMachine>;
  forwarder(id: string, input: ForwarderInput): ActorRefFrom<typeof forwarderMachine>;
  /** The tag I/O saw a link-level failure: the plant forwards it to the unit's connection. */
  reportLinkFailure(unit: string, error: PlantbridgeError): void;
}

export function buildPlantContext(input: PlantInput, spawner: PlantSpawner): PlantContext {
  const { plant, deps } = input;
  const { now, random, log } = deps;
  const io = createTagIO({ units: plant.units, now, log, onLinkFailure: spawner.reportLinkFailure });
  const links: Record<string, UnitLink> = {};
  const units: PlantContext["units"] = {};
  for (const unit of plant.units) {
    const link = deps.createLink(unit);
    links[unit.name] = link;
    units[unit.name] = spawner.connection(actorIds.unit(unit.name), {
      name: unit.name,
      link,
      reconnect: unit.reconnect,
      random,
      now,
      log,
    });
  }
  const loops: PlantContext["loops"] = {};
  for (const loop of plant.control) {
    const transform = transformFor(deps.transforms, loop.name);
    loops[loop.name] = spawner.control(actorIds.loop(loop.name), { loop, transform, io, now, log });
  }
  const storage = spawner.storage(actorIds.storage, {
    storage: plant.storage,
    io,
    spool: deps.spool,
    now,
    log,
  });
  const forwarders: PlantContext["forwarders"] = {};
  const retry: ReconnectConfig = input.historianRetry ?? plantDefaults.historianRetry;
  const tags = storedTagInfos(plant);
  for (const sink of deps.sinks) {
    forwarders[sink.name] = spawner.forwarder(actorIds.forwarder(sink.name), {
      spool: deps.spool,
      sink,
      batchSize: plant.storage.spool.batchSize,
      idleDelayMs: input.forwarderIdleMs ?? plantDefaults.forwarderIdleMs,
      retry,
      random,
      log,
      now,
      tags,
    });
  }
  return {
    plant,
    deps,
    shutdownFlushMs: input.shutdownFlushMs ?? plantDefaults.shutdownFlushMs,
    closeGraceMs: input.closeGraceMs ?? plantDefaults.closeGraceMs,
    io,
    links,
    units,
    loops,
    storage,
    forwarders,
    finalSpoolStats: null,
  };
}
