/**
 * Who talks to whom in a plant: pure look-ups over the plant config, and the actor ids.
 */
import type { TagInfo } from "../adapters/types.ts";
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";
import type { PlantConfig, TagConfig } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import type { LoopTransform } from "./control-types.ts";

export const actorIds = {
  unit: (name: string) => `unit:${name}`,
  loop: (name: string) => `loop:${name}`,
  storage: "storage",
  forwarder: (sink: string) => `forwarder:${sink}`,
  subscription: (unit: string) => `subscription:${unit}`,
} as const;

/** Loops that evaluate on change of this tag. */
export function loopsFedBy(plant: PlantConfig, unit: string, tag: string): string[] {
  return plant.control
    .filter((l) => l.onChange && l.input.unit === unit && l.input.tag === tag)
    .map((l) => l.name);
}

/** Loops whose set point is on this unit. */
export function loopsWritingTo(plant: PlantConfig, unit: string): string[] {
  return plant.control.filter((l) => l.output.unit === unit).map((l) => l.name);
}

/** The tags the historian registers: every stored tag, with its unit and description. */
export function storedTagInfos(plant: PlantConfig): TagInfo[] {
  const seen = new Set<string>();
  const infos: TagInfo[] = [];
  for (const ref of plant.storage.tags) {
    const id = tagId(ref);
    if (seen.has(id)) continue;
    seen.add(id);
    const tag: TagConfig | undefined = plant.units
      .find((u) => u.name === ref.unit)
      ?.tags.find((t) => t.name === ref.tag);
    infos.push({
      id,
      unit: ref.unit,
      ...(tag?.engineeringUnit !== undefined ? { engineeringUnit: tag.engineeringUnit } : {}),
      ...(tag?.description !== undefined ? { description: tag.description } : {}),
    });
  }
  return infos;
}

/** The loop's transform; a loop without one never follows its input (it holds, then goes to its fail-safe). */
export function transformFor(transforms: ReadonlyMap<string, LoopTransform>, loop: string): LoopTransform {
  const transform = transforms.get(loop);
  if (transform !== undefined) return transform;
  const error = new PlantbridgeError(ErrorCode.CONFIG, `no transform for control loop ${loop}`);
  return () => ({ ok: false, error });
}
