/**
 * What the `plantbridge spool` commands need from a plant file: its name, its run-time folder and
 * `storage.spool`. Only those keys must be valid and only their ${ENV} placeholders set, so an
 * operator can look at a plant's spool without the units' addresses and passwords in the
 * environment, and even when another part of the file is broken. Problems in those keys are
 * reported like the plant loader's: file, line, column and key path.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { errorMessage, type PlantbridgeError } from "../lib/errors.ts";
import { configProblem, PlantConfigError, sortProblems } from "./config-error.ts";
import { substituteEnvironment } from "./env-substitution.ts";
import type { LoadPlantOptions } from "./load-plant.ts";
import { spoolConfig, varDirOf } from "./normalise-plant.ts";
import type { SpoolConfig } from "./plant-types.ts";
import type { RawPlant } from "./raw-plant.ts";
import { validatePlantShape } from "./schema-validation.ts";
import { parsePlantYaml } from "./yaml-source.ts";

export interface SpoolSettings {
  /** The plant's name. */
  plant: string;
  /** Absolute path of the plant file. */
  file: string;
  varDir: string;
  spool: SpoolConfig;
}

/** Whether a problem at `keyPath` concerns what the spool commands read. */
function concernsSpool(keyPath: string | undefined): boolean {
  const path = keyPath ?? "";
  return (
    path === "" ||
    path === "plant" ||
    path === "storage" ||
    path === "runtime" ||
    path.startsWith("runtime.") ||
    path === "storage.spool" ||
    path.startsWith("storage.spool.")
  );
}

/** Reads the spool settings of a plant file. Rejects with PlantConfigError (PB_ERR_CONFIG). */
export async function loadSpoolSettings(
  path: string,
  options: LoadPlantOptions = {},
): Promise<SpoolSettings> {
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
  const fail = (problems: readonly PlantbridgeError[]): never => {
    throw new PlantConfigError(path, sortProblems(problems));
  };
  const parsed = parsePlantYaml(text, path);
  if (parsed.problems.length > 0) fail(parsed.problems);
  const source = parsed.source;
  const envProblems = substituteEnvironment(source, options.env ?? process.env).filter((p) =>
    concernsSpool(p.origin.keyPath),
  );
  if (envProblems.length > 0) fail(envProblems);
  let value: unknown;
  try {
    value = source.doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail([configProblem(path, { line: 1, column: 1, keyPath: "" }, `YAML: ${errorMessage(e)}`)]);
  }
  const shapeProblems = validatePlantShape(source, value).filter((p) => concernsSpool(p.origin.keyPath));
  if (shapeProblems.length > 0) fail(shapeProblems);
  const raw = value as Partial<RawPlant>;
  if (typeof raw.plant !== "string") {
    return fail([
      configProblem(path, { line: 1, column: 1, keyPath: "plant" }, 'missing required key "plant"'),
    ]);
  }
  const varDir = varDirOf(raw, {
    cwd: process.cwd(),
    ...(options.varDir !== undefined ? { varDir: options.varDir } : {}),
  });
  return {
    plant: raw.plant,
    file: resolve(path),
    varDir,
    spool: spoolConfig(raw.storage?.spool, raw.plant, varDir),
  };
}
