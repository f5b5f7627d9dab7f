/**
 * What the status server reads — never writes: the plant actor's snapshot (its children's
 * snapshots, the tag I/O's process image), the link meters, the spool's figures, and the plant
 * file for names, units and limits. bin/runtime/start-plant.ts builds it.
 */
import type { SpoolStats } from "../adapters/types.ts";
import type { PlantContext } from "../machines/plant-context.ts";
import type { PlantConfig } from "../schemas/plant-types.ts";
import type { LinkMeter } from "./link-meter.ts";

export interface PlantSnapshotLike {
  status: string;
  value: unknown;
  context: PlantContext;
}

export interface SpoolFigures {
  stats(): SpoolStats;
  /** Time (epoch ms) of the sink's oldest undelivered sample; null when nothing waits. */
  oldestPendingTime(sink: string): number | null;
  readonly path: string;
}

export interface StatusSource {
  plant: PlantConfig;
  snapshot(): PlantSnapshotLike;
  meters: ReadonlyMap<string, LinkMeter>;
  spool: SpoolFigures;
}
