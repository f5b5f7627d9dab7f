/**
 * Samples shaped like the reference plant's storage cycles: the 33 tags config/sim.yaml stores
 * (3 METH values, the 16 PEMEL status bits, 14 PEMEL values), one time per cycle.
 */
import type { Sample, TagInfo } from "../adapters/types.ts";
import { type TagId, tagId } from "../schemas/plant-types.ts";
import { loadSimPlant } from "./sim-plant.ts";

export interface StoredTags {
  infos: TagInfo[];
  /** The tags whose values are booleans (status bits). */
  booleans: ReadonlySet<TagId>;
}

/** The stored tags of config/sim.yaml, in storage order (no simulator needed: the addresses are placeholders). */
export async function referenceStoredTags(varDir: string): Promise<StoredTags> {
  const plant = await loadSimPlant(
    { pemelPort: 502, methEndpoint: "opc.tcp://127.0.0.1:4840", methPassword: "unused" },
    { varDir, historianUrl: "postgres://unused", schema: "unused", spoolPath: "unused" },
  );
  const booleans = new Set<TagId>();
  for (const unit of plant.units) {
    for (const tag of unit.tags) {
      if ("type" in tag && (tag.type === "bit" || tag.type === "bool")) {
        booleans.add(tagId({ unit: unit.name, tag: tag.name }));
      }
    }
  }
  const infos = plant.storage.tags.map((ref) => ({ id: tagId(ref), unit: ref.unit }));
  return { infos, booleans };
}

const firstCycle = Date.UTC(2025, 0, 1);

/** Storage cycle number `cycle`: one good sample per tag, all at the cycle's time (1 s apart). */
export function storageCycle(tags: StoredTags, cycle: number): Sample[] {
  const time = firstCycle + cycle * 1000;
  return tags.infos.map((info, i) => ({
    tag: info.id,
    time,
    value: tags.booleans.has(info.id)
      ? (cycle + i) % 3 !== 0
      : Math.round(1000 * Math.sin(cycle / 50 + i)) / 10,
    quality: "good" as const,
  }));
}
