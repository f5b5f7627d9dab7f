/**
 * `plantbridge check`'s view of a plant file: every problem in one pass, even while `${VAR}`
 * placeholders are unset. `loadPlantText` (what `run` uses) stops at the first step that fails, so
 * an unset variable used to hide a misspelt key until it was set. Here the unset variables are
 * named, the values that hold them get a stand-in, and the rest of the file is validated around
 * them: schema, cross-references, the typed plant. Problems at the unresolved keys themselves
 * (a stand-in is not the real value) are left out; the unset variable is the problem there.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { errorMessage, type PlantbridgeError } from "../lib/errors.ts";
import { configProblem, sortProblems } from "./config-error.ts";
import { type Environment, substituteEnvironmentReport, type UnresolvedValue } from "./env-substitution.ts";
import { normalisePlant } from "./normalise-plant.ts";
import { checkPlant } from "./plant-checks.ts";
import type { PlantConfig } from "./plant-types.ts";
import type { RawPlant } from "./raw-plant.ts";
import { validatePlantShape } from "./schema-validation.ts";
import { keyPathText, type PlantSource, parsePlantYaml } from "./yaml-source.ts";

export interface CheckPlantOptions {
  /** Variables for ${VAR} placeholders. Default: process.env. */
  env?: Environment;
  /** Folder for run-time data; wins over the file's runtime.varDir. Default <cwd>/var. */
  varDir?: string;
}

export interface PlantCheck {
  /** Every problem found, in reading order; unset variables included (`PB_ERR_CONFIG_ENV`). */
  problems: PlantbridgeError[];
  /** Variables that placeholders name and the environment does not set (no default), sorted. */
  unset: string[];
  /**
   * The typed plant when nothing but unset placeholders is wrong (and the plant could be completed
   * with their stand-ins): good for checking what else the plant reads (curve files), never for
   * running it — the values of unresolved keys are stand-ins.
   */
  plant?: PlantConfig;
}

/** Candidate stand-ins for an unresolved value, tried in order; the text itself stays when none fits. */
const STAND_INS: readonly unknown[] = [1];

export async function checkPlantFile(path: string, options: CheckPlantOptions = {}): Promise<PlantCheck> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const reason =
      (e as NodeJS.ErrnoException).code === "ENOENT" ? "the file does not exist" : errorMessage(e);
    return {
      problems: [
        configProblem(path, { line: 1, column: 1, keyPath: "" }, `cannot read the plant file: ${reason}`),
      ],
      unset: [],
    };
  }
  return checkPlantText(text, path, options);
}

export function checkPlantText(text: string, file: string, options: CheckPlantOptions = {}): PlantCheck {
  const parsed = parsePlantYaml(text, file);
  if (parsed.problems.length > 0) return { problems: sortProblems(parsed.problems), unset: [] };
  const source = parsed.source;
  const env = substituteEnvironmentReport(source, options.env ?? process.env);
  const unset = [...new Set(env.unresolved.flatMap((u) => u.unset))].sort();
  const done = (more: readonly PlantbridgeError[], plant?: PlantConfig): PlantCheck => ({
    problems: sortProblems([...env.problems, ...more]),
    unset,
    ...(plant !== undefined ? { plant } : {}),
  });

  let value: unknown;
  try {
    value = source.doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return done([configProblem(file, { line: 1, column: 1, keyPath: "" }, `YAML: ${errorMessage(e)}`)]);
  }
  const unresolved = new Set(env.unresolved.map((u) => keyPathText(u.path)));
  const elsewhere = (problems: readonly PlantbridgeError[]) =>
    problems.filter((p) => !unresolved.has(p.origin.keyPath ?? ""));
  putStandIns(source, value, env.unresolved);

  const shape = elsewhere(validatePlantShape(source, value));
  if (shape.length > 0) return done(shape);
  const raw = value as RawPlant;
  let rules: PlantbridgeError[];
  try {
    rules = elsewhere(checkPlant(source, raw));
  } catch (e) {
    // Only a stand-in can surprise a rule: with every value real, a rule never throws.
    if (env.unresolved.length === 0) throw e;
    rules = [];
  }
  if (rules.length > 0) return done(rules);
  let plant: PlantConfig | undefined;
  try {
    plant = normalisePlant(source, raw, {
      file: resolve(file),
      cwd: process.cwd(),
      ...(options.varDir !== undefined ? { varDir: options.varDir } : {}),
    });
  } catch (e) {
    if (env.unresolved.length === 0) throw e;
    plant = undefined; // a stand-in the normaliser cannot use (a tag reference, a duration text)
  }
  return done([], plant);
}

/**
 * Gives each unresolved value the first stand-in the schema accepts at its key (a number where
 * a number belongs: a port, an address, a timeout), so that the rules and the normaliser see a
 * value of the right kind. A value no stand-in fits keeps its `${VAR}` text.
 */
function putStandIns(source: PlantSource, value: unknown, unresolved: readonly UnresolvedValue[]): void {
  for (const u of unresolved) {
    const keyPath = keyPathText(u.path);
    const original = valueAt(value, u.path);
    const fits = () => !validatePlantShape(source, value).some((p) => p.origin.keyPath === keyPath);
    if (fits()) continue;
    const standIn = STAND_INS.find((candidate) => {
      setAt(value, u.path, candidate);
      return fits();
    });
    if (standIn === undefined) setAt(value, u.path, original);
  }
}

function containerAt(root: unknown, path: readonly string[]): Record<string, unknown> | undefined {
  let node = root;
  for (const segment of path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return typeof node === "object" && node !== null ? (node as Record<string, unknown>) : undefined;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  const last = path.at(-1);
  return last === undefined ? undefined : containerAt(root, path)?.[last];
}

function setAt(root: unknown, path: readonly string[], v: unknown): void {
  const container = containerAt(root, path);
  const last = path.at(-1);
  // Arrays take their index as a string key too: `list["2"]` is `list[2]`.
  if (container !== undefined && last !== undefined) container[last] = v;
}
