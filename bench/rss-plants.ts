/**
 * The three plants the `rss` stage measures, each with its simulators started in the bench's own
 * process (so that their memory is not the plant's) and a plant file the child runs with
 * `plantbridge run`, its historian in a schema of the bench's PostgreSQL:
 * - `reference`: config/sim.yaml on the PEMEL and METH simulators (33 signals, control loop);
 * - `modbus_10k`: the Modbus scale simulator, 10 devices × 1 000 uint16 tags, nothing but Modbus;
 * - `opcua_1k`: the same and one OPC UA unit subscribing to 1 000 nodes of the OPC UA scale simulator.
 * Storage every second in all three.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startModbusScaleSimulator } from "../simulators/scale/index.ts";
import { startOpcuaScaleSimulator } from "../simulators/scale/opcua-scale-simulator.ts";
import { scalePlantYaml } from "../simulators/scale/scale-plant.ts";
import { startSimulatedUnits } from "./sim-plant.ts";
import { repoRoot, type Workspace } from "./workspace.ts";

export type RssPlantName = "reference" | "modbus_10k" | "opcua_1k";

export interface RssPlant {
  name: RssPlantName;
  /** The plant file and the environment `plantbridge run` needs for it. */
  file: string;
  env: Record<string, string>;
  /** Samples per storage cycle. */
  tags: number;
  schema: string;
  stop(): Promise<void>;
}

const periodMs = 1000;
const modbusUnits = 10;
const modbusTags = 1000;
const opcuaNodes = 1000;

async function referencePlant(ws: Workspace): Promise<RssPlant> {
  const units = await startSimulatedUnits(join(ws.dir, "rss-reference"));
  const schema = ws.schemaName("rss_reference");
  return {
    name: "reference",
    file: join(repoRoot, "config", "sim.yaml"),
    env: {
      PB_SIM_PEMEL_PORT: String(units.pemel.port),
      PB_SIM_METH_ENDPOINT: units.meth.endpoint,
      PB_SIM_METH_PASSWORD: units.methPassword,
      PB_HISTORIAN_URL: ws.databaseUrl,
      PB_HISTORIAN_SCHEMA: schema,
    },
    tags: 33,
    schema,
    stop: () => units.stop(),
  };
}

async function scalePlant(ws: Workspace, name: "modbus_10k" | "opcua_1k"): Promise<RssPlant> {
  const modbus = await startModbusScaleSimulator({
    units: modbusUnits,
    registers: modbusTags,
    shape: "devices",
    changeEveryMs: periodMs,
  });
  let opcua: Awaited<ReturnType<typeof startOpcuaScaleSimulator>> | undefined;
  try {
    if (name === "opcua_1k") {
      opcua = await startOpcuaScaleSimulator({
        nodes: opcuaNodes,
        changeEveryMs: periodMs,
        pkiDir: join(ws.dir, "pki", "opcua-scale"),
      });
    }
  } catch (e) {
    await modbus.stop();
    throw e;
  }
  const schema = ws.schemaName(`rss_${name}`);
  const file = join(ws.dir, `rss-${name}.yaml`);
  await writeFile(
    file,
    scalePlantYaml({
      plant: `rss-${name}`,
      units: modbus.units,
      tags: modbusTags,
      connection: "separate",
      periodMs,
      historianUrl: ws.databaseUrl,
      historianSchema: schema,
      ...(opcua !== undefined
        ? { opcua: { endpoint: opcua.endpoint, namespaceIndex: opcua.namespaceIndex, nodes: opcuaNodes } }
        : {}),
    }),
  );
  return {
    name,
    file,
    env: {},
    tags: modbusUnits * modbusTags + (opcua !== undefined ? opcuaNodes : 0),
    schema,
    async stop() {
      await Promise.allSettled([modbus.stop(), opcua?.stop()]);
    },
  };
}

export function startRssPlant(ws: Workspace, name: RssPlantName): Promise<RssPlant> {
  return name === "reference" ? referencePlant(ws) : scalePlant(ws, name);
}
