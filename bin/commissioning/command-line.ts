/**
 * What the commissioning commands share on the command line: their options, the plant file, and
 * the units and tags named as `UNIT.tag`. A command line that does not say something usable is a
 * UsageError (exit code 2); a unit or tag that fails is a coded error (exit code 1).
 */
import { resolve } from "node:path";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { PlantConfig, TagConfig, UnitConfig } from "../../schemas/plant-types.ts";
import { UsageError } from "../usage-error.ts";

export { UsageError };

/** Exit codes of the commissioning commands. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** Options every commissioning command takes. */
export const commonOptions = {
  var: { type: "string" },
  "log-level": { type: "string" },
} as const satisfies ParseArgsOptionsConfig;

/** A negative number (`-1`, `-0.5`) is a value to write, not an option. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** parseArgs whose complaints (unknown option, missing value) are usage errors. */
export function parseCommandLine<T extends ParseArgsOptionsConfig>(args: readonly string[], options: T) {
  // Negative numbers stand aside as placeholders while the options are parsed.
  const negatives: string[] = [];
  const shielded = args.map((a) => (NEGATIVE_NUMBER.test(a) ? `\u0000${negatives.push(a) - 1}` : a));
  try {
    const parsed = parseArgs({ args: shielded, allowPositionals: true, strict: true, options });
    const restore = (v: string) => (v.startsWith("\u0000") ? (negatives[Number(v.slice(1))] ?? v) : v);
    for (const [key, value] of Object.entries(parsed.values)) {
      if (typeof value === "string") (parsed.values as Record<string, unknown>)[key] = restore(value);
    }
    return { values: parsed.values, positionals: parsed.positionals.map(restore) };
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** The plant file, exactly as `run` loads it: a bad file or an unset `${VAR}` is refused. */
export function loadPlant(file: string | undefined, varDir: string | undefined): Promise<PlantConfig> {
  if (file === undefined) throw new UsageError("name the plant file");
  return loadPlantFile(file, varDir !== undefined ? { varDir: resolve(varDir) } : {});
}

export function findUnit(plant: PlantConfig, name: string | undefined): UnitConfig {
  if (name === undefined) throw new UsageError("name the unit");
  const unit = plant.units.find((u) => u.name === name);
  if (unit === undefined) {
    throw new UsageError(
      `the plant has no unit "${name}"; its units are: ${plant.units.map((u) => u.name).join(", ")}`,
    );
  }
  return unit;
}

export interface NamedTag {
  unit: UnitConfig;
  tag: TagConfig;
  /** `UNIT.tag` */
  id: string;
}

function tagsOf(unit: UnitConfig): readonly TagConfig[] {
  return unit.tags;
}

/** `UNIT.tag` → the unit and tag of the plant file. */
export function findTag(plant: PlantConfig, spec: string): NamedTag {
  const dot = spec.indexOf(".");
  if (dot <= 0 || dot === spec.length - 1) throw new UsageError(`"${spec}" is not UNIT.tag`);
  const unit = findUnit(plant, spec.slice(0, dot));
  const name = spec.slice(dot + 1);
  const tag = tagsOf(unit).find((t) => t.name === name);
  if (tag === undefined) {
    const names = tagsOf(unit).map((t) => t.name);
    const shown = names.length > 12 ? `${names.slice(0, 12).join(", ")}, …` : names.join(", ");
    throw new UsageError(`unit ${unit.name} has no tag "${name}"; its tags are: ${shown}`);
  }
  return { unit, tag, id: `${unit.name}.${tag.name}` };
}

function allTags(unit: UnitConfig): NamedTag[] {
  return tagsOf(unit).map((tag) => ({ unit, tag, id: `${unit.name}.${tag.name}` }));
}

/** `UNIT.tag` or a bare `UNIT` (all its tags), in the order given, each tag once. */
export function findTags(plant: PlantConfig, specs: readonly string[]): NamedTag[] {
  if (specs.length === 0)
    throw new UsageError("name at least one tag as UNIT.tag (or a UNIT for all its tags)");
  const out = new Map<string, NamedTag>();
  for (const spec of specs) {
    const named = spec.includes(".") ? [findTag(plant, spec)] : allTags(findUnit(plant, spec));
    for (const n of named) out.set(n.id, n);
  }
  return [...out.values()];
}

/** The tags grouped by unit, so each unit is asked once for all of its tags. */
export function byUnit(tags: readonly NamedTag[]): Map<UnitConfig, NamedTag[]> {
  const groups = new Map<UnitConfig, NamedTag[]>();
  for (const t of tags) {
    const group = groups.get(t.unit);
    if (group === undefined) groups.set(t.unit, [t]);
    else group.push(t);
  }
  return groups;
}

/** A positive number of seconds, e.g. `--interval 0.5`. */
export function seconds(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${option} must be a positive number of seconds, got "${text}"`);
  }
  return value;
}
