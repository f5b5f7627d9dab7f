/**
 * `--fault` specs for `plantbridge sim`: `TARGET:KIND[=ARG]@AT[+FOR]`, e.g.
 *   pemel:drop-connections@5s        drop all PEMEL connections 5 s after start
 *   pemel:exception=4@3s+5s          PEMEL answers Modbus exception 04 from 3 s for 5 s
 *   pemel:stop-answering@10s+8s      PEMEL accepts requests but never replies, from 10 s for 8 s
 *   meth:restart@8s                  restart the METH OPC UA server at 8 s
 *   meth:bad-status=h2_demand@4s+6s  METH serves Bad status on its H2 demand from 4 s for 6 s
 */

export type FaultTarget = "pemel" | "meth";

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
  /^(pemel|meth):([a-z-]+)(?:=([^@]+))?@(\d+(?:\.\d+)?)(ms|s)?(?:\+(\d+(?:\.\d+)?)(ms|s)?)?$/;

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
