/**
 * The reference plant on the simulators, wired as test/support/plant-harness.ts does: the PEMEL
 * Modbus simulator and the METH OPC UA simulator on loopback, and config/sim.yaml loaded with their
 * ports, its historian pointed at the bench's PostgreSQL schema.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { loadPlantFile } from "../schemas/load-plant.ts";
import type { ModbusUnitConfig, PlantConfig, TagRef } from "../schemas/plant-types.ts";
import {
  type MethSimulator,
  type MethSimulatorOptions,
  startMethSimulator,
} from "../simulators/meth/index.ts";
import {
  type PemelSimulator,
  type PemelSimulatorOptions,
  startPemelSimulator,
} from "../simulators/pemel/index.ts";
import { repoRoot } from "./workspace.ts";

const simYaml = join(repoRoot, "config", "sim.yaml");

/** Epoch ms with sub-millisecond resolution, for the simulators' served logs and the bench's stamps. */
export const preciseClock = (): number => performance.timeOrigin + performance.now();

export interface SimulatedUnits {
  pemel: PemelSimulator;
  meth: MethSimulator;
  methPassword: string;
  stop(): Promise<void>;
}

export async function startSimulatedUnits(
  varDir: string,
  options: { pemel?: Omit<PemelSimulatorOptions, "port">; meth?: Partial<MethSimulatorOptions> } = {},
): Promise<SimulatedUnits> {
  const methPassword = randomBytes(9).toString("base64url");
  const pemel = await startPemelSimulator({ clock: preciseClock, ...options.pemel, port: 0 });
  let meth: MethSimulator;
  try {
    meth = await startMethSimulator({
      ...options.meth,
      username: "plantbridge",
      password: methPassword,
      pkiDir: join(varDir, "pki", "meth-simulator"),
    });
  } catch (e) {
    await pemel.stop();
    throw e;
  }
  return {
    pemel,
    meth,
    methPassword,
    async stop() {
      await Promise.allSettled([pemel.stop(), meth.stop()]);
    },
  };
}

/** Where config/sim.yaml finds the simulators. */
export interface SimAddresses {
  pemelPort: number;
  methEndpoint: string;
  methPassword: string;
}

export function addressesOf(units: SimulatedUnits): SimAddresses {
  return { pemelPort: units.pemel.port, methEndpoint: units.meth.endpoint, methPassword: units.methPassword };
}

/**
 * config/sim.yaml (or `where.file`, e.g. config/sim-fast.yaml) for these simulators, its historian
 * in `schema` at `historianUrl`, its spool at `spoolPath`.
 */
export async function loadSimPlant(
  addresses: SimAddresses,
  where: { varDir: string; historianUrl: string; schema: string; spoolPath: string; file?: string },
): Promise<PlantConfig> {
  const loaded = await loadPlantFile(where.file ?? simYaml, {
    varDir: where.varDir,
    env: {
      PB_SIM_PEMEL_PORT: String(addresses.pemelPort),
      PB_SIM_METH_ENDPOINT: addresses.methEndpoint,
      PB_SIM_METH_PASSWORD: addresses.methPassword,
    },
  });
  return {
    ...loaded,
    storage: {
      ...loaded.storage,
      historian: { ...loaded.storage.historian, url: where.historianUrl, schema: where.schema },
      spool: { ...loaded.storage.spool, path: where.spoolPath },
    },
  };
}

/** The PEMEL unit of a plant and the tags of it that storage samples (the reference's 30). */
export function pemelStorage(plant: PlantConfig): { unit: ModbusUnitConfig; tags: string[] } {
  const unit = plant.units.find(
    (u): u is ModbusUnitConfig => u.name === "PEMEL" && u.protocol === "modbus-tcp",
  );
  if (unit === undefined) throw new Error(`${plant.file} has no Modbus unit PEMEL`);
  const tags = plant.storage.tags.filter((t: TagRef) => t.unit === "PEMEL").map((t) => t.tag);
  return { unit, tags };
}
