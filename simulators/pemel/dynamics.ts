/**
 * PEMEL's plant model: deterministic, advanced only by `stepPemel(state, dtMs)`.
 *
 * - Stack current follows the set point (clamped 0..52 A) with a first-order lag.
 * - H2 flow is the calibration curve at the actual current; the H2 volume integrates it.
 * - Power = current × stack voltage (50 cells, 1.48 V + 8.5 mV/A each: about 5 kW at 52 A).
 * - Pressure and temperatures move towards load-dependent targets with slower lags.
 * - Hydrogen cooling runs from start; "cooling temperature reached" (bit 10) comes after the warm-up,
 *   while the H2 cooler temperature falls from ambient to its working value.
 */
import type { FlowCurve } from "./flow-curve.ts";
import { maxCurrent, pemelAddress, processValueNames, statusBit } from "./register-map.ts";

export interface PemelModelParams {
  curve: FlowCurve;
  /** Time from start until bit 10 (cooling temperature reached), ms. */
  warmUpMs: number;
  /** Time constant of the current's response to the set point, ms. */
  timeConstantMs: number;
}

export interface PemelState {
  /** Simulated time since start, ms (sum of all steps). */
  uptimeMs: number;
  /** The set point as last written to 0x8006, A (the register value, not clamped). */
  setpoint: number;
  /** Actual stack current, A. */
  current: number;
  /** Nl/min */
  h2Flow: number;
  /** Produced volume since start, Nl (the register wraps at 65 536). */
  h2Volume: number;
  /** W */
  power: number;
  /** bar */
  h2Pressure: number;
  /** 1/1000 µS */
  conductance: number;
  inletTemperature: number;
  /** % */
  coolerValve: number;
  outletTemperatures: [number, number, number, number, number];
  h2CoolerTemperature: number;
  coolingReady: boolean;
  statusWord: number;
}

const ambient = 20;
const cells = 50;
const thermalTimeConstantMs = 30_000;
const pressureTimeConstantMs = 10_000;
const coolerWorkingTemperature = 5;

export function initialPemelState(): PemelState {
  const state: PemelState = {
    uptimeMs: 0,
    setpoint: 0,
    current: 0,
    h2Flow: 0,
    h2Volume: 0,
    power: 0,
    h2Pressure: 1,
    conductance: 800,
    inletTemperature: ambient,
    coolerValve: 0,
    outletTemperatures: [ambient, ambient, ambient, ambient, ambient],
    h2CoolerTemperature: ambient,
    coolingReady: false,
    statusWord: 0,
  };
  state.statusWord = statusWordOf(state);
  return state;
}

/** Moves `x` towards `target` over `dtMs` with time constant `tauMs` (exact first-order step). */
function lag(x: number, target: number, dtMs: number, tauMs: number): number {
  if (tauMs <= 0) return target;
  return target + (x - target) * Math.exp(-dtMs / tauMs);
}

/** Advances the model by `dtMs` (ms), in place. */
export function stepPemel(state: PemelState, dtMs: number, params: PemelModelParams): void {
  if (!(dtMs > 0)) return;
  state.uptimeMs += dtMs;
  const target = Math.min(maxCurrent, Math.max(0, state.setpoint));
  state.current = lag(state.current, target, dtMs, params.timeConstantMs);
  if (Math.abs(state.current - target) < 1e-6) state.current = target;
  const load = state.current / maxCurrent;
  state.h2Flow = state.current <= 0 ? 0 : params.curve.flowAt(state.current);
  state.h2Volume += (state.h2Flow * dtMs) / 60_000;
  state.power = state.current * cells * (1.48 + 0.0085 * state.current);
  state.h2Pressure = lag(state.h2Pressure, 1 + 29 * load, dtMs, pressureTimeConstantMs);
  state.conductance = 800 + 60 * load;
  state.inletTemperature = lag(state.inletTemperature, ambient + 35 * load, dtMs, thermalTimeConstantMs);
  state.outletTemperatures = state.outletTemperatures.map((t, k) =>
    lag(t, state.inletTemperature + (3 + 0.5 * k) * load, dtMs, thermalTimeConstantMs / 3),
  ) as PemelState["outletTemperatures"];
  state.coolerValve = Math.min(100, 100 * load);
  state.coolingReady = state.uptimeMs >= params.warmUpMs;
  state.h2CoolerTemperature = state.coolingReady
    ? lag(state.h2CoolerTemperature, coolerWorkingTemperature + 3 * load, dtMs, thermalTimeConstantMs)
    : ambient - ((ambient - coolerWorkingTemperature) * state.uptimeMs) / Math.max(1, params.warmUpMs);
  state.statusWord = statusWordOf(state);
}

export function statusWordOf(state: PemelState): number {
  const on = (bit: number, flag = true) => (flag ? 1 << bit : 0);
  return (
    on(statusBit.modeAutomatic) |
    on(statusBit.safetyOk) |
    on(statusBit.mainFanOn) |
    on(statusBit.ancillaryFanOn) |
    on(statusBit.outerCoolingFanOn) |
    on(statusBit.outerCoolingPumpOn) |
    on(statusBit.hydrogenCoolingOn) |
    on(statusBit.hydrogenCoolingTemperatureReached, state.coolingReady) |
    on(statusBit.valveOn, state.current >= 0.5) |
    on(statusBit.pump1On) |
    on(statusBit.pump2On) |
    on(statusBit.pump3On, state.current > maxCurrent / 2)
  );
}

/** The 14 process registers as the unit serves them: rounded, clamped to uint16 (the volume wraps). */
export function processRegisters(state: PemelState): number[] {
  const u16 = (x: number) => Math.min(0xffff, Math.max(0, Math.round(x)));
  const values: Record<(typeof processValueNames)[number], number> = {
    power: u16(state.power),
    current: u16(state.current),
    h2Pressure: u16(state.h2Pressure),
    conductance: u16(state.conductance),
    inletTemperature: u16(state.inletTemperature),
    coolerValve: u16(state.coolerValve),
    h2Flow: u16(state.h2Flow),
    h2Volume: Math.floor(state.h2Volume) % 0x10000,
    outletTemperature1: u16(state.outletTemperatures[0]),
    outletTemperature2: u16(state.outletTemperatures[1]),
    outletTemperature3: u16(state.outletTemperatures[2]),
    outletTemperature4: u16(state.outletTemperatures[3]),
    outletTemperature5: u16(state.outletTemperatures[4]),
    h2CoolerTemperature: u16(state.h2CoolerTemperature),
  };
  return processValueNames.map((name) => values[name]);
}

/** Writes the status word and process values into a holding-register buffer (2 bytes per register). */
export function writePemelRegisters(state: PemelState, holding: Buffer): void {
  holding.writeUInt16BE(state.statusWord, pemelAddress.status * 2);
  processRegisters(state).forEach((value, i) => {
    holding.writeUInt16BE(value, (pemelAddress.processValues + i) * 2);
  });
}
