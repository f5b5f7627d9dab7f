import { errorMessage, type PlantbridgeError } from "../../lib/errors.ts";
import { checkPlantFile } from "../../schemas/check-plant.ts";
import { sortProblems } from "../../schemas/config-error.ts";
import { PlantConfigError } from "../../schemas/load-plant.ts";
import type { PlantConfig } from "../../schemas/plant-types.ts";
import { loadPlantInputs } from "../runtime/plant-inputs.ts";

/**
 * `plantbridge check FILE...`: validates each plant file and prints every problem in one pass —
 * also with `${VAR}` placeholders unset: those are named, and the rest of the file (schema,
 * references, curve files) is still checked. Exit 1 if any file has a problem (an unset variable
 * is one: `run` refuses to start without it).
 */
export async function checkCommand(files: readonly string[]): Promise<number> {
  if (files.length === 0) {
    process.stderr.write("plantbridge check: name at least one plant file\n");
    return 2;
  }
  let bad = 0;
  for (const file of files) {
    const check = await checkPlantFile(file);
    const problems = [...check.problems];
    if (check.plant !== undefined) problems.push(...(await curveProblems(check.plant)));
    if (problems.length === 0 && check.plant !== undefined) {
      process.stdout.write(`${file}: ok — ${summary(check.plant)}\n`);
      continue;
    }
    bad++;
    for (const problem of sortProblems(problems)) process.stderr.write(`${problem.describe()}\n`);
    if (check.unset.length > 0) {
      const names = check.unset.join(", ");
      const count = check.unset.length === 1 ? "1 variable" : `${check.unset.length} variables`;
      process.stderr.write(
        `${file}: ${count} not set: ${names} — the rest of the file was checked without them; run refuses to start until they are set\n`,
      );
    }
  }
  return bad === 0 ? 0 : 1;
}

/** The curve files too: `check` passes exactly the files `run` starts with. */
async function curveProblems(plant: PlantConfig): Promise<PlantbridgeError[]> {
  try {
    await loadPlantInputs(plant);
    return [];
  } catch (e) {
    if (e instanceof PlantConfigError) return e.problems;
    throw new Error(`${plant.file}: ${errorMessage(e)}`, { cause: e });
  }
}

function summary(plant: PlantConfig): string {
  const tags = plant.units.reduce((n, u) => n + u.tags.length, 0);
  return `plant "${plant.name}", ${plant.units.length} units, ${tags} tags, ${plant.control.length} control loops, ${plant.storage.tags.length} stored tags`;
}
