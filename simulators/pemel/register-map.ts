/**
 * The PEMEL electrolyzer's register map (holding registers, 0-based protocol addresses), as the real
 * unit serves it and the original PyComInt tool read it. Every register is a uint16 holding an
 * integer in the engineering unit named here (scale 1), except conductance in 1/1000 µS.
 */

export const pemelAddress = {
  /** Stack current set point, integer amperes (write single register). */
  currentSetpoint: 0x8006,
  /** Status word, one bit each (see `statusBit`). */
  status: 0x8061,
  /** First of the 14 process values. */
  processValues: 0x8065,
} as const;

/** The 14 process values from 0x8065, in register order. */
export const processValueNames = [
  "power", // W
  "current", // A
  "h2Pressure", // bar
  "conductance", // 1/1000 µS
  "inletTemperature", // °C
  "coolerValve", // %
  "h2Flow", // Nl/min
  "h2Volume", // Nl (wraps at 65 536)
  "outletTemperature1", // °C
  "outletTemperature2",
  "outletTemperature3",
  "outletTemperature4",
  "outletTemperature5",
  "h2CoolerTemperature", // °C
] as const;

export type ProcessValueName = (typeof processValueNames)[number];

/** Bit index of each status flag in the status word at 0x8061. */
export const statusBit = {
  error: 0,
  modeOff: 1,
  modeManual: 2,
  modeAutomatic: 3,
  safetyOk: 4,
  mainFanOn: 5,
  ancillaryFanOn: 6,
  outerCoolingFanOn: 7,
  outerCoolingPumpOn: 8,
  hydrogenCoolingOn: 9,
  hydrogenCoolingTemperatureReached: 10,
  valveOn: 11,
  pump1On: 12,
  pump2On: 13,
  pump3On: 14,
} as const;

/** Registers the unit computes itself: writes to them are refused with exception 2. */
export const readOnlyRange: readonly [number, number] = [
  pemelAddress.status,
  pemelAddress.processValues + processValueNames.length - 1,
];

/** Highest stack current the unit runs at, A. */
export const maxCurrent = 52;
