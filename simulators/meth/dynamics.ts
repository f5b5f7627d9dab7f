/**
 * METH's process values as a function of the H2 demand: first-order lags towards targets
 * that depend on the load. Pure: `stepMeth` returns the next state.
 */

export interface MethProcess {
  /** Reactor temperature, °C (about 37–40). */
  temperature: number;
  /** Reactor pressure, bar (about 1–5). */
  pressure: number;
  /** Methane production, Nl/min (about demand / 4, lagging). */
  methaneProduction: number;
}

/** Time constants of the lags, ms. */
const TAU = { temperature: 120_000, pressure: 20_000, methane: 30_000 } as const;
/** Demand at which the reactor is at full load, Nl/min. */
const FULL_LOAD = 20;

export function initialProcess(demand: number): MethProcess {
  return targets(demand, 0);
}

function load(demand: number): number {
  return Math.min(1, Math.max(0, demand / FULL_LOAD));
}

function targets(demand: number, elapsedMs: number): MethProcess {
  const l = load(demand);
  // The biology warms with load; a slow daily-like swing of ±0.4 °C on top keeps it moving.
  const swing = 0.4 * Math.sin((2 * Math.PI * elapsedMs) / 900_000);
  return {
    temperature: 37.6 + 1.8 * l + swing,
    pressure: 1.0 + 4.0 * l,
    methaneProduction: demand / 4,
  };
}

function lag(current: number, target: number, dtMs: number, tauMs: number): number {
  return current + (target - current) * (1 - Math.exp(-dtMs / tauMs));
}

/** The process `dtMs` later, with `demand` held during the step. */
export function stepMeth(p: MethProcess, demand: number, elapsedMs: number, dtMs: number): MethProcess {
  if (!(dtMs > 0)) return p;
  const t = targets(demand, elapsedMs);
  return {
    temperature: lag(p.temperature, t.temperature, dtMs, TAU.temperature),
    pressure: lag(p.pressure, t.pressure, dtMs, TAU.pressure),
    methaneProduction: lag(p.methaneProduction, t.methaneProduction, dtMs, TAU.methane),
  };
}
