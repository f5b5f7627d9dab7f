/**
 * `--fault` specs for `plantbridge sim`: `TARGET:KIND[=ARG]@AT[+FOR]`, e.g.
 *   pemel:drop-connections@5s        drop all PEMEL connections 5 s after start
 *   pemel:exception=4@3s+5s          PEMEL answers Modbus exception 04 from 3 s for 5 s
 *   pemel:stop-answering@10s+8s      PEMEL accepts requests but never replies, from 10 s for 8 s
 *   meth:restart@8s                  restart the METH OPC UA server at 8 s
 *   meth:bad-status=h2_demand@4s+6s  METH serves Bad status on its H2 demand from 4 s for 6 s
 *   scale:silent=3@5s+20s            (sim --scale) unit id 3 reads its requests and never answers, from 5 s for 20 s
 *   scale:drop-connections@8s        (sim --scale) the scale simulator drops every connection at 8 s
 */

import type { MethFault } from "../../simulators/meth/index.ts";
import type { PemelFault } from "../../simulators/pemel/index.ts";

export type FaultTarget = "pemel" | "meth" | "scale";

/** What `--fault scale:…` does to the Modbus scale simulator. */
export type ScaleFault = { kind: "silent"; unitId: number } | { kind: "drop-connections" };

export interface ScheduledFault {
  spec: string;
  target: FaultTarget;
  kind: string;
  arg?: string;
  atMs: number;
  /** Absent = a one-shot fault (drop, restart) or one that lasts to the end of the run. */
  forMs?: number;
}

const specPattern =
  /^(pemel|meth|scale):([a-z-]+)(?:=([^@]+))?@(\d+(?:\.\d+)?)(ms|s)?(?:\+(\d+(?:\.\d+)?)(ms|s)?)?$/;

function toMs(value: string, unit: string | undefined): number {
  return Number(value) * (unit === "ms" ? 1 : 1000);
}

export function parseFaultSpec(spec: string): ScheduledFault {
  const m = specPattern.exec(spec.trim());
  if (!m) {
    throw new Error(
      `--fault "${spec}": expected TARGET:KIND[=ARG]@AT[+FOR], e.g. pemel:drop-connections@5s or pemel:exception=4@3s+5s`,
    );
  }
  const [, target, kind, arg, at, atUnit, forValue, forUnit] = m;
  return {
    spec,
    target: target as FaultTarget,
    kind: kind as string,
    ...(arg !== undefined ? { arg } : {}),
    atMs: toMs(at as string, atUnit),
    ...(forValue !== undefined ? { forMs: toMs(forValue, forUnit) } : {}),
  };
}

export function pemelFault(f: ScheduledFault): PemelFault {
  switch (f.kind) {
    case "drop-connections":
    case "stop-answering":
    case "refuse-connections":
    case "single-connection":
      return { kind: f.kind };
    case "exception": {
      const code = Number(f.arg ?? "4");
      if (code !== 2 && code !== 4 && code !== 6)
        throw new Error(`--fault ${f.spec}: exception code must be 2, 4 or 6`);
      return { kind: "exception", code };
    }
    default:
      throw new Error(
        `--fault ${f.spec}: PEMEL knows drop-connections, stop-answering, refuse-connections, single-connection, exception=2|4|6, restart`,
      );
  }
}

export function methFault(f: ScheduledFault): MethFault {
  switch (f.kind) {
    case "drop-connections":
    case "close-sessions":
    case "stop-answering":
    case "freeze":
    case "refuse-subscriptions":
    case "silent-subscriptions":
      return { kind: f.kind };
    case "bad-status":
      return { kind: "bad-status", nodes: (f.arg ?? "real_h2_flowrate").split(",") };
    default:
      throw new Error(
        `--fault ${f.spec}: METH knows drop-connections, close-sessions, stop-answering, freeze, refuse-subscriptions, silent-subscriptions, bad-status=NODE[,NODE], restart`,
      );
  }
}

export function scaleFault(f: ScheduledFault): ScaleFault {
  switch (f.kind) {
    case "drop-connections":
      return { kind: f.kind };
    case "silent": {
      const unitId = Number(f.arg ?? "1");
      if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255)
        throw new Error(`--fault ${f.spec}: silent=UNITID needs a unit id 0..255`);
      return { kind: "silent", unitId };
    }
    default:
      throw new Error(`--fault ${f.spec}: the scale simulator knows silent=UNITID and drop-connections`);
  }
}

/**
 * Parses and checks every `--fault` spec (syntax, kind per unit, argument) for the simulators that
 * run (`targets`: PEMEL and METH for `sim`, the scale simulator for `sim --scale`); throws naming
 * the first bad spec. Call it before anything is created or started.
 */
export function checkFaultSpecs(
  specs: readonly string[],
  targets: readonly FaultTarget[] = ["pemel", "meth"],
): ScheduledFault[] {
  const schedule = specs.map(parseFaultSpec);
  for (const f of schedule) {
    if (!targets.includes(f.target))
      throw new Error(
        `--fault ${f.spec}: no ${f.target} simulator runs here (this run has ${targets.join(", ")})`,
      );
    if (f.target === "scale") scaleFault(f);
    else if (f.kind !== "restart") f.target === "pemel" ? pemelFault(f) : methFault(f);
  }
  return schedule;
}
