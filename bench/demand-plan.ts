/**
 * The H2 demands the control-latency bench sets on METH: midpoints between neighbouring points of
 * the loop's own calibration curve, each mapped by the loop's own transform to a set point of at
 * least the minimum load, every one distinct — so each change makes the loop write a new current
 * and the bench knows which value to wait for. A seeded generator keeps runs comparable.
 */
import { loadCurve } from "../calibration/curve.ts";
import { createTransform } from "../calibration/transform.ts";
import type { ControlLoopConfig } from "../schemas/plant-types.ts";

export interface DemandStep {
  /** Nl/min, set on METH. */
  demand: number;
  /** The set point the loop must write for it, A. */
  setPoint: number;
}

/** mulberry32: a small deterministic generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Demands with distinct set points (above the loop's minimum rule, so none means "off"). */
export async function demandSteps(loop: ControlLoopConfig): Promise<DemandStep[]> {
  const curveConfig = loop.transform.curve;
  if (curveConfig === undefined) throw new Error(`loop ${loop.name} has no curve to choose demands from`);
  const curve = await loadCurve(curveConfig.file, { lookupColumns: [curveConfig.inputColumn] });
  const transform = createTransform(loop.transform, curve);
  const inputs = curve.rows.map((row) => row[curveConfig.inputColumn] ?? Number.NaN).sort((a, b) => a - b);
  const minimum = loop.transform.minimum?.value ?? 0;
  const bySetPoint = new Map<number, DemandStep>();
  for (let i = 0; i + 1 < inputs.length; i++) {
    const demand = Math.round((((inputs[i] ?? 0) + (inputs[i + 1] ?? 0)) / 2) * 1000) / 1000;
    const result = transform(demand);
    if (!result.ok || result.value < minimum || bySetPoint.has(result.value)) continue;
    bySetPoint.set(result.value, { demand, setPoint: result.value });
  }
  const steps = [...bySetPoint.values()];
  if (steps.length < 3)
    throw new Error(`loop ${loop.name}: its curve gives fewer than 3 distinct set points`);
  return steps;
}

/** `count` steps drawn at random, each with a set point different from the one before. */
export function demandSequence(
  steps: readonly DemandStep[],
  count: number,
  random: () => number,
  previous?: number,
): DemandStep[] {
  const sequence: DemandStep[] = [];
  let last = previous;
  while (sequence.length < count) {
    const step = steps[Math.floor(random() * steps.length)];
    if (step === undefined || step.setPoint === last) continue;
    sequence.push(step);
    last = step.setPoint;
  }
  return sequence;
}
