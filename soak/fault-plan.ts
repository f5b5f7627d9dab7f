/**
 * The soak's faults: every few seconds one is drawn (seeded, so a run can be repeated) from
 * everything the simulators, the historian proxy and the wall clock can do, and held for a while.
 * At most one fault per target holds at a time, so each one's effect stays readable in the log.
 */
import type { MethFault } from "../simulators/meth/index.ts";
import type { PemelFault } from "../simulators/pemel/index.ts";

export type SoakTarget = "pemel" | "meth" | "historian" | "clock";

export type SoakFault =
  | { target: "pemel"; name: string; fault: PemelFault | "restart"; holdMs: number }
  | { target: "meth"; name: string; fault: MethFault | "restart"; holdMs: number; downMs: number }
  | { target: "historian"; name: string; mode: "sever" | "stall"; holdMs: number }
  | { target: "clock"; name: string; stepMs: number; holdMs: number };

const pemelFaults: readonly (PemelFault | "restart")[] = [
  { kind: "drop-connections" },
  { kind: "stop-answering" },
  { kind: "refuse-connections" },
  { kind: "single-connection" },
  { kind: "exception", code: 2 },
  { kind: "exception", code: 4 },
  { kind: "exception", code: 6 },
  { kind: "cooling-lost" },
  "restart",
];

const methFaults: readonly (MethFault | "restart")[] = [
  { kind: "drop-connections" },
  { kind: "close-sessions" },
  { kind: "stop-answering" },
  { kind: "bad-status", nodes: ["real_h2_flowrate"] },
  { kind: "refuse-subscriptions" },
  { kind: "silent-subscriptions" },
  "restart",
];

/** Wall-clock steps: an hour either way (an NTP step after a wrong hand-set clock), and small ones. */
const clockSteps = [-3_600_000, 3_600_000, -90_000, 30_000];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length) % list.length] as T;
}

function between(random: () => number, min: number, max: number): number {
  return Math.round(min + random() * (max - min));
}

function nameOf(fault: PemelFault | MethFault | "restart"): string {
  if (fault === "restart") return "restart";
  return fault.kind === "exception" ? `exception=${fault.code}` : fault.kind;
}

/** Draws the next fault for one of the free targets (undefined when every target is busy). */
export function drawFault(random: () => number, busy: ReadonlySet<SoakTarget>, clockOffsetMs: number) {
  const free = (["pemel", "meth", "historian", "clock"] as const).filter((t) => !busy.has(t));
  if (free.length === 0) return undefined;
  const target = pick(random, free);
  switch (target) {
    case "pemel": {
      const fault = pick(random, pemelFaults);
      return {
        target,
        name: `pemel:${nameOf(fault)}`,
        fault,
        holdMs: between(random, 1_000, 8_000),
      } as const;
    }
    case "meth": {
      const fault = pick(random, methFaults);
      return {
        target,
        name: `meth:${nameOf(fault)}`,
        fault,
        holdMs: between(random, 1_000, 8_000),
        downMs: between(random, 0, 3_000),
      } as const;
    }
    case "historian": {
      const mode = random() < 0.5 ? "sever" : "stall";
      return { target, name: `historian:${mode}`, mode, holdMs: between(random, 2_000, 20_000) } as const;
    }
    case "clock": {
      // Back to the true time when stepped away; otherwise a step either way.
      const stepMs = clockOffsetMs !== 0 ? -clockOffsetMs : pick(random, clockSteps);
      return {
        target,
        name: `clock:${stepMs > 0 ? "+" : ""}${stepMs / 1000}s`,
        stepMs,
        holdMs: between(random, 5_000, 20_000),
      } as const;
    }
  }
}
