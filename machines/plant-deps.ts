/**
 * What the plant machine needs from the outside world. The CLI (bin/) builds the real ones;
 * tests pass fakes.
 */
import type { HistorianSink, Spool, UnitLink } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import type { Log } from "../lib/log.ts";
import type { PlantConfig, ReconnectConfig, UnitConfig } from "../schemas/plant-types.ts";
import type { LoopTransform } from "./control-types.ts";

export interface PlantDeps {
  /** Called once per unit when the plant starts. */
  createLink(unit: UnitConfig): UnitLink;
  /** The transform of each control loop, by loop name (calibration/transform.ts builds them). */
  transforms: ReadonlyMap<string /* loop name */, LoopTransform>;
  spool: Spool;
  sinks: readonly HistorianSink[];
  /** Monotonic time for every delay, age and schedule; wall time for stamps only. */
  clock: Clock;
  random(): number;
  log: Log;
}

export interface PlantInput {
  plant: PlantConfig;
  deps: PlantDeps;
  /** How long SHUTDOWN lets the forwarders drain the spool. Default 10 000 ms. */
  shutdownFlushMs?: number;
  /** How long the forwarders wait on an empty spool before they look again. Default 1000 ms. */
  forwarderIdleMs?: number;
  /** Backoff of the forwarders when a historian is unavailable. */
  historianRetry?: ReconnectConfig;
  /** SHUTDOWN stops waiting for links (and, past its deadline, for forwarders) after this long. Default 5000 ms. */
  closeGraceMs?: number;
  /** Backoff of restarts of a child actor that failed. */
  childRestart?: ReconnectConfig;
  /** A child that fails this many times within `childRestartWindowMs` ends the plant (fatal). */
  childRestartLimit?: number;
  childRestartWindowMs?: number;
}

export const plantDefaults = {
  shutdownFlushMs: 10_000,
  forwarderIdleMs: 1000,
  closeGraceMs: 5000,
  // A historian that comes back is written to again within 10 s at most.
  historianRetry: { initialDelayMs: 1000, maxDelayMs: 10_000, factor: 2, jitter: 0.2, stableAfterMs: 10_000 },
  childRestart: { initialDelayMs: 1000, maxDelayMs: 60_000, factor: 2, jitter: 0, stableAfterMs: 600_000 },
  childRestartLimit: 5,
  childRestartWindowMs: 600_000,
} as const satisfies Required<Omit<PlantInput, "plant" | "deps">>;
