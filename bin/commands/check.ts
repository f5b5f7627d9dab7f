import { errorMessage } from "../../lib/errors.ts";
import { loadPlantFile, PlantConfigError } from "../../schemas/load-plant.ts";
import { loadPlantInputs } from "../runtime/plant-inputs.ts";

/** `plantbridge check FILE...`: validates each plant file; prints every problem; exit 1 if any file is bad. */
export async function checkCommand(files: readonly string[]): Promise<number> {
  if (files.length === 0) {
    process.stderr.write("plantbridge check: name at least one plant file\n");
    return 2;
  }
  let bad = 0;
  for (const file of files) {
    try {
      const plant = await loadPlantFile(file);
      // The curve files too: `check` passes exactly the files `run` starts with.
      await loadPlantInputs(plant);
      const tags = plant.units.reduce((n, u) => n + u.tags.length, 0);
      process.stdout.write(
        `${file}: ok — plant "${plant.name}", ${plant.units.length} units, ${tags} tags, ${plant.control.length} control loops, ${plant.storage.tags.length} stored tags\n`,
      );
    } catch (e) {
      bad++;
      if (e instanceof PlantConfigError) {
        for (const problem of e.problems) process.stderr.write(`${problem.describe()}\n`);
      } else {
        process.stderr.write(`${file}: ${errorMessage(e)}\n`);
      }
    }
  }
  return bad === 0 ? 0 : 1;
}
