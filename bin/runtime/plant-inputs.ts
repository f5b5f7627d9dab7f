/**
 * What a plant reads besides its plant file — each control loop's curve file — loaded and checked
 * before anything is created or started: a bad curve stops `run` (and fails `check`) before the
 * log, the spool, the embedded database or a link exists. Each curve file is read once, here,
 * never in the loop.
 */

import { loadCurve } from "../../calibration/curve.ts";
import { createTransform } from "../../calibration/transform.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { PlantDeps } from "../../machines/plant-deps.ts";
import { PlantConfigError } from "../../schemas/load-plant.ts";
import type { ControlLoopConfig, PlantConfig } from "../../schemas/plant-types.ts";

export interface PlantInputs {
  /** The transform of each control loop, by loop name. */
  readonly transforms: PlantDeps["transforms"];
}

/** The loop's problem, placed at the loop in the plant file; the message names the curve file, line and column. */
function loopProblem(plantFile: string, loop: ControlLoopConfig, e: unknown): PlantbridgeError {
  const curveFile = loop.transform.curve?.file;
  const what = curveFile ? "transform.curve.file is not a usable curve" : "transform is not usable";
  return new PlantbridgeError(
    ErrorCode.CALIBRATION,
    `${what}: ${errorMessage(e)}`,
    {
      file: loop.position?.file ?? plantFile,
      ...(loop.position ? { line: loop.position.line, column: loop.position.column } : {}),
      keyPath: `control.${loop.name}`,
    },
    { cause: e },
  );
}

/**
 * Loads every loop's curve and builds its transform. Throws a PlantConfigError listing every
 * loop whose curve or transform is bad (`plantFile:line:col control.LOOP: … curveFile:line:col …`).
 */
export async function loadPlantInputs(plant: PlantConfig): Promise<PlantInputs> {
  const transforms = new Map<string, ReturnType<typeof createTransform>>();
  const problems: PlantbridgeError[] = [];
  for (const loop of plant.control) {
    try {
      const curve = loop.transform.curve ? await loadCurve(loop.transform.curve.file) : undefined;
      transforms.set(loop.name, createTransform(loop.transform, curve));
    } catch (e) {
      problems.push(loopProblem(plant.file, loop, e));
    }
  }
  if (problems.length > 0) {
    throw new PlantConfigError(plant.file, problems);
  }
  return { transforms };
}
