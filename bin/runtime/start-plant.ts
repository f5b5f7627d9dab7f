import { join } from "node:path";
import { createActor, toPromise } from "xstate";
import { startEmbeddedPostgres } from "../../adapters/embedded-postgres/embedded.ts";
import { createModbusLinks, type ModbusLinks } from "../../adapters/modbus/modbus-links.ts";
import { createOpcuaLink } from "../../adapters/opcua/opcua-link.ts";
import { createPostgresSink } from "../../adapters/postgres/postgres-sink.ts";
import { openSpool } from "../../adapters/spool/sqlite-spool.ts";
import type { HistorianSink, Spool, UnitLink } from "../../adapters/types.ts";
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
import type { PlantConfig, UnitConfig } from "../../schemas/plant-types.ts";
import { type LiveInspector, startInspector } from "./inspector.ts";
import { loadPlantInputs, type PlantInputs } from "./plant-inputs.ts";

export interface RunningPlant {
  readonly historianUrl: string;
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
  inspectPort?: number;
  /** How long SHUTDOWN may spend draining the spool into the historian. */
  shutdownFlushMs?: number;
  /** Curves and transforms loaded beforehand (`loadPlantInputs`); loaded here when absent. */
  inputs?: PlantInputs;
}

/** The historian sink's name: its delivery cursor in the spool. */
const sinkName = "postgres";

function createLink(unit: UnitConfig, log: Log, pkiDir: string, clock: Clock, modbus: ModbusLinks): UnitLink {
  // The adapters name their unit in every log line themselves.
  return unit.protocol === "modbus-tcp" ? modbus.link(unit) : createOpcuaLink(unit, { log, pkiDir, clock });
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
  let spool: Spool;
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

    if (options.inspectPort !== undefined) {
      const live = await startInspector(options.inspectPort, log);
      inspector = live;
      undo.push(() => live.stop());
    }
  } catch (e) {
    await undoAll();
    throw e;
  }

  const pkiDir = join(plant.varDir, "pki");
  // One per plant: units with `connection: shared` on one host:port share a connection through it.
  const modbusLinks = createModbusLinks({ log, clock: systemClock });
  const deps: PlantDeps = {
    createLink: (unit) => createLink(unit, log, pkiDir, systemClock, modbusLinks),
    transforms,
    spool,
    sinks: [sink],
    clock: systemClock,
    random: Math.random,
    log,
  };
  const actor = createActor(plantMachine, {
    input: { plant, deps, shutdownFlushMs: options.shutdownFlushMs ?? 10_000 },
    ...(inspector ? { inspect: inspector.inspect } : {}),
  });
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
    health: () => plantHealth(actor.getSnapshot()),
    stopped,
    stop,
  };
}
