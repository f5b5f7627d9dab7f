/**
 * The measured current → H2 flow curve the simulator produces hydrogen by: the calibration curve
 * (calibration/curve.ts) looked up from the current column (0) to the flow column (1), linear
 * between points, the end values held outside the measured range.
 */
import { fileURLToPath } from "node:url";
import { type Curve, loadCurve, parseCurve } from "../../calibration/curve.ts";
import { interpolate } from "../../calibration/interpolate.ts";

/** The reference plant's curve shipped in calibration/. */
export const defaultCurveFile = fileURLToPath(
  new URL("../../calibration/pemel-current-h2flow.txt", import.meta.url),
);

const currentColumn = 0;
const flowColumn = 1;

export interface FlowCurve {
  readonly curve: Curve;
  /** H2 flow (Nl/min) at a stack current (A). */
  flowAt(current: number): number;
}

function toFlowCurve(curve: Curve): FlowCurve {
  return { curve, flowAt: (current) => interpolate(curve, currentColumn, flowColumn, current) };
}

export function parseFlowCurve(text: string, file = "curve"): FlowCurve {
  return toFlowCurve(parseCurve(text, file, { lookupColumns: [currentColumn] }));
}

export async function loadFlowCurve(file: string = defaultCurveFile): Promise<FlowCurve> {
  return toFlowCurve(await loadCurve(file, { lookupColumns: [currentColumn] }));
}
