import { join } from "node:path";
import { createActor, toPromise } from "xstate";
import { createModbusLink } from "../../adapters/modbus/modbus-link.ts";
import { createOpcuaLink } from "../../adapters/opcua/opcua-link.ts";
import { startEmbeddedPostgres } from "../../adapters/postgres/embedded.ts";
import { createPostgresSink } from "../../adapters/postgres/postgres-sink.ts";
import { openSpool } from "../../adapters/spool/sqlite-spool.ts";
import type { HistorianSink, Spool, UnitLink } from "../../adapters/types.ts";
import { loadCurve } from "../../calibration/curve.ts";
import { createTransform } from "../../calibration/transform.ts";
import type { Log } from "../../lib/log.ts";
import { type PlantHealth, plantHealth, plantMachine } from "../../machines/plant.machine.ts";
import type { PlantDeps } from "../../machines/plant-deps.ts";
import type { PlantConfig, UnitConfig } from "../../schemas/plant-types.ts";
import { type LiveInspector, startInspector } from "./inspector.ts";

export interface RunningPlant {
  readonly historianUrl: string;
  health(): PlantHealth;
  /** Resolves when the plant machine has stopped (after SHUTDOWN, or on a fatal error). */
  readonly stopped: Promise<void>;
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
}

function createLink(unit: UnitConfig, log: Log, pkiDir: string): UnitLink {
  // The adapters name their unit in every log line themselves.
  const unitLog = log;
  return unit.protocol === "modbus-tcp"
    ? createModbusLink(unit, { log: unitLog })
    : createOpcuaLink(unit, { log: unitLog, pkiDir });
}

async function createTransforms(plant: PlantConfig): Promise<PlantDeps["transforms"]> {
  const transforms = new Map<string, ReturnType<typeof createTransform>>();
  for (const loop of plant.control) {
    // Each curve file is read once at start, never in the loop.
    const curve = loop.transform.curve ? await loadCurve(loop.transform.curve.file) : undefined;
    transforms.set(loop.name, createTransform(loop.transform, curve));
  }
  return transforms;
}

/** Wires the real adapters into the plant machine and starts it. */
export async function startPlant(plant: PlantConfig, options: StartPlantOptions): Promise<RunningPlant> {
  const { log } = options;
  const historian = plant.storage.historian;
  const transforms = await createTransforms(plant);

  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let historianUrl = historian.url ?? "";
  if (historianUrl === "") {
    embedded = await startEmbeddedPostgres({
      dataDir: join(plant.varDir, "postgres"),
      log: log.child({ part: "embedded-postgres" }),
    });
    historianUrl = embedded.url;
  }

  const sink: HistorianSink = createPostgresSink({
    url: historianUrl,
    historian,
    log: log.child({ sink: "postgres" }),
  });
  const spool: Spool = openSpool({
    path: plant.storage.spool.path,
    sinks: [sink.name],
    maxSamples: plant.storage.spool.maxSamples,
    synchronous: plant.storage.spool.synchronous,
    log: log.child({ part: "spool" }),
  });

  let inspector: LiveInspector | undefined;
  if (options.inspectPort !== undefined) inspector = await startInspector(options.inspectPort, log);

  const pkiDir = join(plant.varDir, "pki");
  const deps: PlantDeps = {
    createLink: (unit) => createLink(unit, log, pkiDir),
    transforms,
    spool,
    sinks: [sink],
    now: () => Date.now(),
    random: Math.random,
    log,
  };
  const actor = createActor(plantMachine, {
    input: { plant, deps, shutdownFlushMs: options.shutdownFlushMs ?? 10_000 },
    ...(inspector ? { inspect: inspector.inspect } : {}),
  });
  const stopped = toPromise(actor).then(() => undefined);
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
