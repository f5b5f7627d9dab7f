/**
 * Whether a running plant is alive in the sense a supervisor cares about: not merely that the
 * process answers, but that its machines still make progress — the storage machine takes its
 * cycles and every control loop evaluates. A unit that is down is not a stall (storage stores its
 * tags as bad samples, loops decide "hold" or the fail-safe, all on schedule); a machine that stops
 * taking its steps is, and restarting the process is the cure. Durations on a monotonic clock.
 */
import type { PlantHealth } from "../../machines/plant-health.ts";
import type { PlantConfig } from "../../schemas/plant-types.ts";

export interface Liveness {
  alive: boolean;
  /** Why not, for the log. */
  reason?: string;
}

/** A step counter that must keep moving: its last value and when it last moved. */
interface Progress {
  what: string;
  limitMs: number;
  count: (health: PlantHealth) => number | undefined;
  /** Counters start at 0 with the plant. */
  last: number;
  movedAt: number;
}

/** A machine that has not taken a step for this many of its periods (and at least `minStallMs`) is stalled. */
const STALL_PERIODS = 3;

export function createLivenessCheck(
  plant: PlantConfig,
  options: { now: () => number; minStallMs: number },
): (health: PlantHealth) => Liveness {
  const start = options.now();
  const limit = (periodMs: number) => Math.max(STALL_PERIODS * periodMs, options.minStallMs);
  const watched: Progress[] = [];
  if (plant.storage.tags.length > 0) {
    watched.push({
      what: "storage",
      limitMs: limit(plant.storage.periodMs),
      count: (h) => h.storage.cycles,
      last: 0,
      movedAt: start,
    });
  }
  for (const loop of plant.control) {
    watched.push({
      what: `control loop ${loop.name}`,
      limitMs: limit(loop.periodMs),
      count: (h) => h.loops[loop.name]?.evaluations,
      last: 0,
      movedAt: start,
    });
  }
  return (health) => {
    if (health.state === "error" || health.state === "stopped") {
      return { alive: false, reason: `the plant machine is ${health.state}` };
    }
    const now = options.now();
    for (const p of watched) {
      const count = p.count(health);
      if (count !== undefined && count !== p.last) {
        p.last = count;
        p.movedAt = now;
        continue;
      }
      const still = now - p.movedAt;
      if (still > p.limitMs) {
        return { alive: false, reason: `${p.what} has taken no step for ${Math.round(still / 1000)} s` };
      }
    }
    return { alive: true };
  };
}
