import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlantFile } from "../../../schemas/load-plant.ts";
import type { ModbusUnitConfig, OpcuaUnitConfig, PlantConfig } from "../../../schemas/plant-types.ts";
import { tagId } from "../../../schemas/plant-types.ts";

const ROOT = join(import.meta.dirname, "../../..");

/** The 33 signals the original tool stored, in its column order (DB_COLUMNS without the time column). */
const ORIGINAL_SIGNALS = [
  "METH.real_temperature",
  "METH.real_pressure",
  "METH.real_methane_production",
  ...[
    "error",
    "modeoff",
    "modemanual",
    "modeautomatic",
    "safety",
    "main_fan",
    "fan",
    "outer_cooling_fan",
    "outer_cooling_pump",
    "h2_cooling",
    "h2_cooling_temperature_reached",
    "valve",
    "pump1",
    "pump2",
    "pump3",
    "empty",
  ].map((b) => `PEMEL.${b}`),
  ...[
    "el_power_act",
    "el_current_act",
    "el_h2_pressure_act",
    "el_conductance_act",
    "el_temp_in_act",
    "el_propventil",
    "el_calch2flow_act",
    "el_calch2volume_sum",
    "el_1_temp_out_act",
    "el_2_temp_out_act",
    "el_3_temp_out_act",
    "el_4_temp_out_act",
    "el_5_temp_out_act",
    "el_h2_cooling_temp_act",
  ].map((r) => `PEMEL.${r}`),
];

function unit<T extends PlantConfig["units"][number]>(plant: PlantConfig, name: string): T {
  const found = plant.units.find((u) => u.name === name);
  if (found === undefined) throw new Error(`no unit ${name}`);
  return found as T;
}

function modbusTag(plant: PlantConfig, name: string) {
  const tag = unit<ModbusUnitConfig>(plant, "PEMEL").tags.find((t) => t.name === name);
  if (tag === undefined) throw new Error(`no PEMEL tag ${name}`);
  return tag;
}

/** What both reference files must say about the plant itself. */
function expectReferencePlant(plant: PlantConfig): void {
  const pemel = unit<ModbusUnitConfig>(plant, "PEMEL");
  expect(pemel.protocol).toBe("modbus-tcp");
  expect(pemel.unitId).toBe(0);
  // 16 status bits + 14 process values + the set point register.
  expect(pemel.tags).toHaveLength(31);
  for (const [bit, name] of [
    [0, "error"],
    [4, "safety"],
    [10, "h2_cooling_temperature_reached"],
    [15, "empty"],
  ] as const) {
    expect(modbusTag(plant, name)).toMatchObject({ area: "holding", address: 0x8061, type: "bit", bit });
  }
  expect(modbusTag(plant, "el_power_act")).toMatchObject({
    address: 0x8065,
    type: "uint16",
    engineeringUnit: "W",
  });
  expect(modbusTag(plant, "el_h2_cooling_temp_act")).toMatchObject({
    address: 0x8072,
    engineeringUnit: "°C",
  });
  const values = pemel.tags
    .filter((t) => t.type === "uint16" && t.writable === undefined)
    .map((t) => t.address);
  expect(values).toEqual(Array.from({ length: 14 }, (_, i) => 0x8065 + i));
  const setpoint = modbusTag(plant, "current_setpoint");
  expect(setpoint).toMatchObject({ address: 0x8006, type: "uint16", writable: { min: 0, max: 52 } });
  expect(pemel.tags.filter((t) => t.writable !== undefined).map((t) => t.name)).toEqual(["current_setpoint"]);

  const meth = unit<OpcuaUnitConfig>(plant, "METH");
  expect(meth.protocol).toBe("opcua");
  expect(meth.tags.map((t) => [t.name, t.nodeId])).toEqual([
    ["real_temperature", "ns=7;s=::AsGlobalPV:real_temperature"],
    ["real_pressure", "ns=7;s=::AsGlobalPV:real_pressure"],
    ["real_methane_production", "ns=7;s=::AsGlobalPV:real_methane_production"],
    ["h2_demand", "ns=7;s=::AsGlobalPV:real_h2_flowrate"],
  ]);
  expect(meth.tags.every((t) => t.writable === undefined)).toBe(true);

  expect(plant.control).toHaveLength(1);
  const loop = plant.control[0]!;
  expect(tagId(loop.input)).toBe("METH.h2_demand");
  expect(tagId(loop.output)).toBe("PEMEL.current_setpoint");
  expect(loop.permissive && tagId(loop.permissive)).toBe("PEMEL.h2_cooling_temperature_reached");
  expect(loop.periodMs).toBe(1000);
  expect(loop.onChange).toBe(true);
  expect(loop.transform).toEqual({
    curve: {
      file: join(ROOT, "calibration/pemel-current-h2flow.txt"),
      inputColumn: 1,
      outputColumn: 0,
      atOrAboveTop: 52,
      belowBottom: 0,
    },
    minimum: { value: 8, replacement: 0 },
    round: "half-even",
    clamp: { min: 0, max: 52 },
  });
  expect(loop.staleAfterMs).toBe(3000);

  expect(plant.storage.tags.map(tagId)).toEqual(ORIGINAL_SIGNALS);
  expect(plant.storage.tags).toHaveLength(33);
  expect(plant.storage.historian).toEqual({ schema: "plantbridge", layout: "narrow", alterTable: true });
  expect(plant.storage.spool).toMatchObject({
    maxSamples: 10_000_000,
    maxDeadLetters: 100_000,
    synchronous: "NORMAL",
    batchSize: 5000,
  });
}

describe("config/plant.yaml", () => {
  const env = {
    PEMEL_HOST: "10.0.6.65",
    METH_ENDPOINT: "opc.tcp://10.0.6.70:4840",
    METH_USERNAME: "OPCUA_user_1",
    METH_PASSWORD: "s3cret",
  };

  it("is the reference plant with the seed's register map, node ids and control rule", async () => {
    const plant = await loadPlantFile(join(ROOT, "config/plant.yaml"), { env });
    expect(plant.name).toBe("power-to-gas");
    expect(plant.file).toBe(join(ROOT, "config/plant.yaml"));
    expectReferencePlant(plant);
    const pemel = unit<ModbusUnitConfig>(plant, "PEMEL");
    expect(pemel).toMatchObject({ host: "10.0.6.65", port: 502, timeoutMs: 1000 });
    const meth = unit<OpcuaUnitConfig>(plant, "METH");
    expect(meth).toMatchObject({
      endpoint: "opc.tcp://10.0.6.70:4840",
      username: "OPCUA_user_1",
      password: "s3cret",
      securityMode: "None",
      securityPolicy: "None",
    });
    expect(plant.control[0]?.failSafe).toEqual({ afterMs: 10_000, value: 0 });
    expect(plant.storage.periodMs).toBe(10_000);
  });

  it("uses the historian url from the environment, and the embedded database without it", async () => {
    const url = "postgres://plantbridge:pw@historian:5432/plant";
    const external = await loadPlantFile(join(ROOT, "config/plant.yaml"), {
      env: { ...env, PB_HISTORIAN_URL: url },
    });
    expect(external.storage.historian.url).toBe(url);
    const embedded = await loadPlantFile(join(ROOT, "config/plant.yaml"), {
      env: { ...env, PB_HISTORIAN_URL: "" },
    });
    expect(embedded.storage.historian.url).toBeUndefined();
  });

  it("puts run-time data under var/ unless told otherwise", async () => {
    const plant = await loadPlantFile(join(ROOT, "config/plant.yaml"), { env });
    expect(plant.varDir).toBe(join(process.cwd(), "var"));
    expect(plant.storage.spool.path).toBe(join(process.cwd(), "var/spool/power-to-gas.sqlite"));
    const elsewhere = await loadPlantFile(join(ROOT, "config/plant.yaml"), {
      env,
      varDir: "var/test/elsewhere",
    });
    expect(elsewhere.varDir).toBe(join(process.cwd(), "var/test/elsewhere"));
    expect(elsewhere.storage.spool.path).toBe(
      join(process.cwd(), "var/test/elsewhere/spool/power-to-gas.sqlite"),
    );
  });

  it("keeps source positions that point back at the file", async () => {
    const plant = await loadPlantFile(join(ROOT, "config/plant.yaml"), { env });
    const bit = modbusTag(plant, "h2_cooling_temperature_reached");
    expect(bit.position?.file).toBe(join(ROOT, "config/plant.yaml"));
    expect(bit.position?.line).toBeGreaterThan(1);
  });
});

describe("config/sim.yaml", () => {
  const env = { PB_SIM_PEMEL_PORT: "15020", PB_SIM_METH_ENDPOINT: "opc.tcp://127.0.0.1:48400/UA/METH" };

  it("is the same plant on the simulators, storing every second", async () => {
    const plant = await loadPlantFile(join(ROOT, "config/sim.yaml"), { env });
    expectReferencePlant(plant);
    const pemel = unit<ModbusUnitConfig>(plant, "PEMEL");
    expect(pemel.host).toBe("127.0.0.1");
    expect(pemel.port).toBe(15020);
    const meth = unit<OpcuaUnitConfig>(plant, "METH");
    expect(meth).toMatchObject({
      endpoint: "opc.tcp://127.0.0.1:48400/UA/METH",
      username: "plantbridge",
      password: "sim",
    });
    expect(plant.storage.periodMs).toBe(1000);
    expect(plant.control[0]?.periodMs).toBe(1000);
    expect(plant.control[0]?.failSafe).toEqual({ afterMs: 5000, value: 0 });
  });

  it("takes the simulator password from the environment when it is set", async () => {
    const plant = await loadPlantFile(join(ROOT, "config/sim.yaml"), {
      env: { ...env, PB_SIM_METH_PASSWORD: "0123" },
    });
    // A password stays text even when it reads as a number.
    expect(unit<OpcuaUnitConfig>(plant, "METH").password).toBe("0123");
  });

  it("declares the same tags and addresses as config/plant.yaml", async () => {
    const sim = await loadPlantFile(join(ROOT, "config/sim.yaml"), { env });
    const real = await loadPlantFile(join(ROOT, "config/plant.yaml"), {
      env: { PEMEL_HOST: "h", METH_ENDPOINT: "opc.tcp://h:4840", METH_USERNAME: "u", METH_PASSWORD: "p" },
    });
    const shape = (p: PlantConfig) =>
      p.units.map((u) =>
        u.protocol === "modbus-tcp"
          ? u.tags.map((t) => [t.name, t.address, t.type, t.bit, t.writable])
          : u.tags.map((t) => [t.name, t.nodeId, t.mode]),
      );
    expect(shape(sim)).toEqual(shape(real));
  });
});
