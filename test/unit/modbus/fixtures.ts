// Tag and unit configs for the Modbus tests, built directly (the YAML loader is not involved).
import type {
  ModbusDataType,
  ModbusTagConfig,
  ModbusUnitConfig,
  WordOrder,
} from "../../../schemas/plant-types.ts";

export function tag(
  name: string,
  address: number,
  type: ModbusDataType = "uint16",
  extra: Partial<ModbusTagConfig> = {},
): ModbusTagConfig {
  return {
    name,
    area: "holding",
    address,
    type,
    wordOrder: "ABCD" as WordOrder,
    scale: 1,
    offset: 0,
    ...extra,
  };
}

/** The 16 bits of PEMEL's status word at 0x8061, as the loader expands a `bits` word. */
export const pemelStatusBits = [
  "error",
  "mode_off",
  "mode_manual",
  "mode_automatic",
  "safety_ok",
  "main_fan_on",
  "ancillary_fan_on",
  "outer_cooling_fan_on",
  "outer_cooling_pump_on",
  "hydrogen_cooling_on",
  "hydrogen_cooling_temperature_reached",
  "valve_on",
  "pump1_on",
  "pump2_on",
  "pump3_on",
  "spare",
] as const;

/** The 14 process values from 0x8065. */
export const pemelValues = [
  ["power", "W"],
  ["current", "A"],
  ["h2_pressure", "bar"],
  ["conductance", "1/1000 µS"],
  ["inlet_temperature", "°C"],
  ["cooler_valve", "%"],
  ["h2_flow", "Nl/min"],
  ["h2_volume", "Nl"],
  ["outlet_temperature_1", "°C"],
  ["outlet_temperature_2", "°C"],
  ["outlet_temperature_3", "°C"],
  ["outlet_temperature_4", "°C"],
  ["outlet_temperature_5", "°C"],
  ["h2_cooler_temperature", "°C"],
] as const;

/** PEMEL's reference tags: 16 status bits, 14 process values, the writable current set point. */
export function pemelTags(): ModbusTagConfig[] {
  return [
    ...pemelStatusBits.map((name, bit) => tag(name, 0x8061, "bit", { bit })),
    ...pemelValues.map(([name, engineeringUnit], i) => tag(name, 0x8065 + i, "uint16", { engineeringUnit })),
    tag("current_setpoint", 0x8006, "uint16", { engineeringUnit: "A", writable: { min: 0, max: 52 } }),
  ];
}

export function pemelUnit(port: number, extra: Partial<ModbusUnitConfig> = {}): ModbusUnitConfig {
  return {
    name: "PEMEL",
    protocol: "modbus-tcp",
    host: "127.0.0.1",
    port,
    unitId: 0,
    timeoutMs: 2000,
    connection: "separate",
    demotion: { after: 3, periodMs: 10_000, maxPeriodMs: 300_000 },
    maxRegistersPerRequest: 125,
    maxGapRegisters: 10,
    reconnect: { initialDelayMs: 100, maxDelayMs: 2000, factor: 2, jitter: 0.2, stableAfterMs: 10_000 },
    tags: pemelTags(),
    ...extra,
  };
}
