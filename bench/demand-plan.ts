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

export { seededRandom } from "../lib/seeded-random.ts";

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
