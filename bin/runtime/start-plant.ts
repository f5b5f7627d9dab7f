import { join } from "node:path";
import { createActor, toPromise } from "xstate";
import { startEmbeddedPostgres } from "../../adapters/embedded-postgres/embedded.ts";
import { createPostgresSink } from "../../adapters/postgres/postgres-sink.ts";
import { openSpool, type SqliteSpool } from "../../adapters/spool/sqlite-spool.ts";
import type { HistorianSink, UnitLink } from "../../adapters/types.ts";
import { type Clock, systemClock } from "../../lib/clock.ts";
import { errorMessage } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import {
  type PlantHealth,
  type PlantOutput,
  plantHealth,
  plantMachine,
} from "../../machines/plant.machine.ts";
import type { PlantDeps } from "../../machines/plant-deps.ts";
import type { HttpConfig, PlantConfig, UnitConfig } from "../../schemas/plant-types.ts";
import { createStateFeed, fanOutInspection } from "../../status/feed.ts";
import { type LinkMeter, meterLink } from "../../status/link-meter.ts";
import type { StatusServer } from "../../status/server.ts";
import type { InspectAddress, LiveInspector } from "./inspector.ts";
import { loadPlantInputs, type PlantInputs } from "./plant-inputs.ts";
import { loadUnitLinkStacks, type UnitLinkStacks } from "./unit-link-stacks.ts";

export interface RunningPlant {
  readonly historianUrl: string;
  /** The status page's address, when the status server runs. */
  readonly statusUrl: string | undefined;
  /** The Stately inspector's page, with --inspect. */
  readonly inspectorUrl: string | undefined;
  health(): PlantHealth;
  /**
   * Resolves when the plant machine has stopped: after SHUTDOWN (`fatal` null), or on its own
   * because a part of it kept failing or the machine itself failed (`fatal` says why). Never rejects.
   */
  readonly stopped: Promise<PlantOutput>;
  /**
   * Clean shutdown: no new samples, forwarders flush within the deadline (the rest stays in the spool
   * for the next start), links closed, spool closed; `beforeDatabaseStop` runs while the historian
   * (embedded or not) is still up; then the embedded PostgreSQL stops.
   */
  stop(beforeDatabaseStop?: (historianUrl: string) => Promise<void>): Promise<void>;
}

export interface StartPlantOptions {
  log: Log;
  /** Serve the live actor system to the Stately inspector here. */
  inspect?: InspectAddress;
  /** Start the status server (page, health, metrics, events) with this address; absent = none. */
  http?: HttpConfig;
  /** How long SHUTDOWN may spend draining the spool into the historian. */
  shutdownFlushMs?: number;
  /** Curves and transforms loaded beforehand (`loadPlantInputs`); loaded here when absent. */
  inputs?: PlantInputs;
  /** The plant's clocks; default the system's (a soak run steps the wall clock through its own). */
  clock?: Clock;
  /**
   * Links made elsewhere (the bench's synthetic scale units): called once per unit; undefined
   * gives the unit its real Modbus or OPC UA link.
   */
  createLink?: (unit: UnitConfig) => UnitLink | undefined;
}

/** The historian sink's name: its delivery cursor in the spool. */
const sinkName = "postgres";

/** The unit's link, counted by a link meter (the status server reads the meters). */
function createLink(unit: UnitConfig, stacks: UnitLinkStacks, meters: Map<string, LinkMeter>): UnitLink {
  // The adapters name their unit in every log line themselves.
  const metered = meterLink(stacks.link(unit));
  meters.set(unit.name, metered.meter);
  return metered.link;
}

/**
 * Wires the real adapters into the plant machine and starts it. Everything that can fail from
 * input (curve files) is checked first; if a later step fails (the embedded database, the spool,
 * the inspector port), what was already started is stopped again before the error is thrown:
 * the plant never half-starts.
 */
export async function startPlant(plant: PlantConfig, options: StartPlantOptions): Promise<RunningPlant> {
  const { log } = options;
  const historian = plant.storage.historian;
  const { transforms } = options.inputs ?? (await loadPlantInputs(plant));

  const undo: Array<() => unknown> = [];
  const undoAll = async () => {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (e) {
        log.warn({ reason: errorMessage(e) }, "while undoing a failed start");
      }
    }
  };

  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let historianUrl = historian.url ?? "";
  let spool: SqliteSpool;
  let sink: HistorianSink;
  let inspector: LiveInspector | undefined;
  try {
    // The spool first: its path comes from the plant file, and it is quick to open.
    const opened = openSpool({
      path: plant.storage.spool.path,
      sinks: [sinkName],
      maxSamples: plant.storage.spool.maxSamples,
      maxDeadLetters: plant.storage.spool.maxDeadLetters,
      synchronous: plant.storage.spool.synchronous,
      log: log.child({ part: "spool" }),
    });
    spool = opened;
    undo.push(() => opened.close());

    if (historianUrl === "") {
      const started = await startEmbeddedPostgres({
        dataDir: join(plant.varDir, "postgres"),
        log: log.child({ part: "embedded-postgres" }),
      });
      embedded = started;
      undo.push(() => started.stop());
      historianUrl = started.url;
    }
    sink = createPostgresSink({
      name: sinkName,
      url: historianUrl,
      historian,
      log: log.child({ sink: sinkName }),
    });

    if (options.inspect !== undefined) {
      // Loaded only here: without --inspect, @statelyai/inspect and ws are never loaded.
      const { startInspector } = await import("./inspector.ts");
      const live = await startInspector(options.inspect, log);
      inspector = live;
      undo.push(() => live.stop());
    }
  } catch (e) {
    await undoAll();
    throw e;
  }

  const pkiDir = join(plant.varDir, "pki");
  const clock = options.clock ?? systemClock;
  const meters = new Map<string, LinkMeter>();
  // Only the protocol stacks of the plant's units are loaded (node-opcua alone is ~100 MB of RSS).
  // Modbus links are one set per plant: units with `connection: shared` on one host:port share a connection.
  let stacks: UnitLinkStacks;
  try {
    stacks = await loadUnitLinkStacks(plant, { log, clock, pkiDir });
  } catch (e) {
    await undoAll();
    throw e;
  }
  const deps: PlantDeps = {
    createLink: (unit) => options.createLink?.(unit) ?? createLink(unit, stacks, meters),
    transforms,
    spool,
    sinks: [sink],
    clock,
    random: Math.random,
    log,
  };
  // Every state change reaches the status feed; with --inspect the Stately inspector sees the same events.
  const feed = createStateFeed();
  const actor = createActor(plantMachine, {
    input: { plant, deps, shutdownFlushMs: options.shutdownFlushMs ?? 10_000 },
    inspect: inspector ? fanOutInspection(feed.inspect, inspector.inspect) : feed.inspect,
  });
  let status: StatusServer | undefined;
  if (options.http !== undefined) {
    try {
      // Loaded only here: without a status server, fastify and prom-client are never loaded.
      const { startStatusServer } = await import("../../status/server.ts");
      status = await startStatusServer({
        http: options.http,
        feed,
        log: log.child({ part: "status" }),
        source: { plant, snapshot: () => actor.getSnapshot(), meters, spool },
      });
    } catch (e) {
      await undoAll();
      throw e;
    }
  }
  const stopped: Promise<PlantOutput> = toPromise(actor).then(
    (output) => output,
    (e: unknown) => {
      const fatal = `the plant machine failed: ${errorMessage(e)}`;
      log.fatal({ reason: errorMessage(e) }, fatal);
      return { fatal };
    },
  );
  actor.start();
  log.info(
    {
      plant: plant.name,
      units: plant.units.map((u) => u.name),
      historian: embedded ? "embedded" : "external",
    },
    "plant started",
  );

  let stopping: Promise<void> | undefined;
  const stop = (beforeDatabaseStop?: (url: string) => Promise<void>): Promise<void> => {
    stopping ??= (async () => {
      actor.send({ type: "SHUTDOWN" });
      try {
        await stopped;
      } finally {
        await status
          ?.close()
          .catch((e: unknown) => log.warn({ reason: errorMessage(e) }, "status server close"));
        spool.close();
        inspector?.stop();
        try {
          if (beforeDatabaseStop) await beforeDatabaseStop(historianUrl);
        } finally {
          await embedded?.stop();
        }
        log.info({ plant: plant.name }, "plant stopped");
      }
    })();
    return stopping;
  };

  return {
    historianUrl,
    statusUrl: status?.url,
    inspectorUrl: inspector?.url,
    health: () => plantHealth(actor.getSnapshot()),
    stopped,
    stop,
  };
}
