/**
 * The plant's health as plain JSON: per unit, per loop, storage, spool and per sink.
 * Read from the plant machine's snapshot (its children's snapshots), never from the machines' internals.
 */
import type { Spool, SpoolStats } from "../adapters/types.ts";
import { errorMessage } from "../lib/errors.ts";
import { connectionState } from "./connection.machine.ts";
import type { PlantContext } from "./plant-context.ts";

export interface UnitHealth {
  state: string;
  /** Epoch ms when the unit entered its current state. */
  since: number;
  faults: number;
  reconnects: number;
  lastError: string | null;
}

export interface LoopHealth {
  state: string;
  lastDecision: string | null;
  evaluations: number;
  writes: number;
  writeFailures: number;
  lastWritten: number | null;
  failSafeActive: boolean;
  failSafeActivations: number;
  overruns: number;
}

export interface StorageHealth {
  state: string;
  cycles: number;
  samples: number;
  badSamples: number;
  overruns: number;
  appendFailures: number;
  /** Samples taken but not yet in the spool. */
  unstored: number;
  dropped: number;
}

export interface SinkHealth {
  state: string;
  since: number;
  delivered: number;
  deadLettered: number;
  batches: number;
  retries: number;
  lastError: string | null;
}

export interface PlantHealth {
  plant: string;
  state: string;
  units: Record<string, UnitHealth>;
  loops: Record<string, LoopHealth>;
  storage: StorageHealth;
  spool: SpoolStats | { error: string };
  sinks: Record<string, SinkHealth>;
}

/** The spool's figures, or the reason they cannot be read (e.g. the spool is closed). */
export function readSpoolStats(spool: Pick<Spool, "stats">): SpoolStats | null {
  try {
    return spool.stats();
  } catch {
    return null;
  }
}

function stateName(snapshot: { status: string; value: unknown }): string {
  if (snapshot.status === "error") return "error";
  return connectionState(snapshot.value);
}

/** A JSON-serialisable health snapshot of a running or stopped plant. */
export function plantHealth(snapshot: {
  status: string;
  value: unknown;
  context: PlantContext;
}): PlantHealth {
  const { context } = snapshot;
  const units: Record<string, UnitHealth> = {};
  for (const [name, actor] of Object.entries(context.units)) {
    const s = actor.getSnapshot();
    units[name] = {
      state: stateName(s),
      since: s.context.since,
      faults: s.context.faults,
      reconnects: s.context.reconnects,
      lastError: s.context.lastError,
    };
  }
  const loops: Record<string, LoopHealth> = {};
  for (const [name, actor] of Object.entries(context.loops)) {
    const s = actor.getSnapshot();
    const c = s.context;
    loops[name] = {
      state: stateName(s),
      lastDecision: c.lastDecision,
      evaluations: c.evaluations,
      writes: c.writes,
      writeFailures: c.writeFailures,
      lastWritten: c.lastWritten,
      failSafeActive: c.failSafeActive,
      failSafeActivations: c.failSafeActivations,
      overruns: c.overruns,
    };
  }
  const storageSnapshot = context.storage.getSnapshot();
  const sc = storageSnapshot.context;
  const sinks: Record<string, SinkHealth> = {};
  for (const [name, actor] of Object.entries(context.forwarders)) {
    const s = actor.getSnapshot();
    sinks[name] = {
      state: stateName(s),
      since: s.context.since,
      delivered: s.context.delivered,
      deadLettered: s.context.deadLettered,
      batches: s.context.batches,
      retries: s.context.retries,
      lastError: s.context.lastError,
    };
  }
  let spool: SpoolStats | { error: string };
  try {
    spool =
      snapshot.status === "done" && context.finalSpoolStats
        ? context.finalSpoolStats
        : context.deps.spool.stats();
  } catch (e) {
    spool = context.finalSpoolStats ?? { error: errorMessage(e) };
  }
  return {
    plant: context.plant.name,
    state: stateName(snapshot),
    units,
    loops,
    storage: {
      state: stateName(storageSnapshot),
      cycles: sc.cycles,
      samples: sc.samples,
      badSamples: sc.badSamples,
      overruns: sc.overruns,
      appendFailures: sc.appendFailures,
      unstored: sc.pending.length,
      dropped: sc.dropped,
    },
    spool,
    sinks,
  };
}
