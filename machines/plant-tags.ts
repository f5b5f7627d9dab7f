/**
 * The plant's tags as the tag I/O looks them up: per unit, each tag's configuration, its id and
 * whether it is subscribed, and the tags with a `maxAge`, worked out once; tag refs grouped by
 * unit; and the check of a write against the configuration (writable, within its limits).
 */
import type { TagValue } from "../adapters/types.ts";
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";
import type { TagConfig, TagId, TagRef, UnitConfig } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";

export interface UnitTags {
  tags: ReadonlyMap<string, TagConfig>;
  /** `UNIT.tag` of each local tag name, made once (a read of 10 000 tags builds no strings). */
  ids: ReadonlyMap<string, TagId>;
  subscribed: readonly string[];
}

export function isSubscribedTag(tag: TagConfig): boolean {
  return "mode" in tag && tag.mode === "subscribe";
}

/** Each unit's tags, and the `maxAge` of every tag that has one. */
export function indexPlantTags(units: readonly UnitConfig[]): {
  units: Map<string, UnitTags>;
  maxAges: Map<TagId, number>;
} {
  const byUnit = new Map<string, UnitTags>();
  const maxAges = new Map<TagId, number>();
  for (const unit of units) {
    byUnit.set(unit.name, {
      tags: new Map<string, TagConfig>(unit.tags.map((t) => [t.name, t])),
      ids: new Map(unit.tags.map((t) => [t.name, tagId({ unit: unit.name, tag: t.name })])),
      subscribed: unit.tags.filter(isSubscribedTag).map((t) => t.name),
    });
    for (const t of unit.tags)
      if (t.maxAgeMs !== undefined) maxAges.set(tagId({ unit: unit.name, tag: t.name }), t.maxAgeMs);
  }
  return { units: byUnit, maxAges };
}

/** Groups tag refs by unit, each tag once, in first-seen order. */
export function tagsByUnit(refs: readonly TagRef[]): Map<string, string[]> {
  const byUnit = new Map<string, string[]>();
  const seen = new Map<string, Set<string>>();
  for (const ref of refs) {
    const tags = byUnit.get(ref.unit);
    if (tags === undefined) {
      byUnit.set(ref.unit, [ref.tag]);
      seen.set(ref.unit, new Set([ref.tag]));
      continue;
    }
    const known = seen.get(ref.unit) as Set<string>;
    if (known.has(ref.tag)) continue;
    known.add(ref.tag);
    tags.push(ref.tag);
  }
  return byUnit;
}

/** Throws a coded error naming the tag unless `config` is a writable tag and `value` within its limits. */
export function checkWriteAllowed(config: TagConfig | undefined, ref: TagRef, value: TagValue): void {
  if (config === undefined)
    throw new PlantbridgeError(ErrorCode.UNKNOWN_TAG, "no such tag in the plant", ref);
  if (config.writable === undefined)
    throw new PlantbridgeError(ErrorCode.NOT_WRITABLE, "tag is not declared writable", ref);
  const number = typeof value === "boolean" ? Number(value) : value;
  const { min, max } = config.writable;
  if (!Number.isFinite(number) || number < min || number > max)
    throw new PlantbridgeError(
      ErrorCode.OUT_OF_LIMITS,
      `${value} is outside the limits [${min}, ${max}]`,
      ref,
    );
}
