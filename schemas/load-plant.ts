/**
 * Loads a plant file: YAML with positions → ${ENV} substitution → JSON Schema → semantic
 * checks → the typed PlantConfig. Any problem stops the load with one PlantConfigError that
 * lists every problem of the failing step; a bad file never yields a partial config.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { errorMessage, type PlantbridgeError } from "../lib/errors.ts";
import { configProblem, PlantConfigError, sortProblems } from "./config-error.ts";
import { type Environment, substituteEnvironment } from "./env-substitution.ts";
import { normalisePlant } from "./normalise-plant.ts";
import { checkPlant } from "./plant-checks.ts";
import type { PlantConfig } from "./plant-types.ts";
import type { RawPlant } from "./raw-plant.ts";
import { validatePlantShape } from "./schema-validation.ts";
import { parsePlantYaml } from "./yaml-source.ts";

export { PlantConfigError } from "./config-error.ts";
export { parseAddress, parseDuration } from "./durations.ts";

export interface LoadPlantOptions {
  /** Variables for ${VAR} placeholders. Default: process.env. */
  env?: Environment;
  /** Folder for run-time data; wins over the file's runtime.varDir. Default <cwd>/var. */
  varDir?: string;
}

/** Reads, validates and types a plant file. Rejects with PlantConfigError (code PB_ERR_CONFIG). */
export async function loadPlantFile(path: string, options: LoadPlantOptions = {}): Promise<PlantConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const reason =
      (e as NodeJS.ErrnoException).code === "ENOENT" ? "the file does not exist" : errorMessage(e);
    throw new PlantConfigError(path, [
      configProblem(path, { line: 1, column: 1, keyPath: "" }, `cannot read the plant file: ${reason}`),
    ]);
  }
  return loadPlantText(text, path, options);
}

/**
 * Validates and types the text of a plant file. `file` names it in messages and is the base
 * of relative paths in it (curve files). Throws PlantConfigError (code PB_ERR_CONFIG).
 */
export function loadPlantText(text: string, file: string, options: LoadPlantOptions = {}): PlantConfig {
  const fail = (problems: readonly PlantbridgeError[]): never => {
    throw new PlantConfigError(file, sortProblems(problems));
  };
  const parsed = parsePlantYaml(text, file);
  if (parsed.problems.length > 0) fail(parsed.problems);
  const source = parsed.source;
  const envProblems = substituteEnvironment(source, options.env ?? process.env);
  if (envProblems.length > 0) fail(envProblems);
  let value: unknown;
  try {
    value = source.doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail([configProblem(file, { line: 1, column: 1, keyPath: "" }, `YAML: ${errorMessage(e)}`)]);
  }
  const shapeProblems = validatePlantShape(source, value);
  if (shapeProblems.length > 0) fail(shapeProblems);
  const raw = value as RawPlant;
  const ruleProblems = checkPlant(source, raw);
  if (ruleProblems.length > 0) fail(ruleProblems);
  return normalisePlant(source, raw, {
    file: resolve(file),
    cwd: process.cwd(),
    ...(options.varDir !== undefined ? { varDir: options.varDir } : {}),
  });
}
