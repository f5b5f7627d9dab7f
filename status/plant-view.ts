/**
 * The plant as the status page, /api/snapshot and the event stream show it: plain JSON built
 * from the plant actor's snapshot, the tag I/O's process image, the link meters and the spool's
 * figures. Only chosen figures leave: no machine context is sent whole, so no password, token or
 * historian URL can reach a page.
 */
import { statSync } from "node:fs";
import type { Reading } from "../adapters/types.ts";
import { wallTimeOf } from "../lib/clock.ts";
import { errorMessage } from "../lib/errors.ts";
import { connectionState } from "../machines/connection.machine.ts";
import { countSamples } from "../machines/storage-samples.ts";
import type { ControlLoopConfig, TagConfig, UnitConfig } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import type { SinkRates } from "./sink-rates.ts";
import type { PlantSnapshotLike, StatusSource } from "./source.ts";
import type {
  LoopView,
  MachineState,
  PlantView,
  SinkView,
  SpoolView,
  TagPoint,
  TagView,
  UnitView,
} from "./view-types.ts";

export type {
  LoopView,
  MachineState,
  PlantView,
  SinkView,
  SpoolView,
  StorageView,
  TagPoint,
  TagView,
  UnitView,
} from "./view-types.ts";

export interface ViewClocks {
  /** Wall clock, epoch ms: stamps the view and ages wall-stamped samples. */
  wall: () => number;
  /** Monotonic ms (performance.now): ages what the link meters noted. */
  monotonic: () => number;
}

const connectedStates = new Set(["reading", "idle", "delivering"]);

/** A sink counts as connected in these forwarder states (opening, historianDown, flushed are not). */
export function sinkConnected(state: string): boolean {
  return connectedStates.has(state);
}

function addressOf(unit: UnitConfig): string {
  if (unit.protocol === "modbus-tcp") return `${unit.host}:${unit.port}`;
  try {
    const url = new URL(unit.endpoint);
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return "(endpoint not shown)";
  }
}

function statusOrState(snapshot: { status: string; value: unknown }): string {
  return snapshot.status === "error" ? "error" : connectionState(snapshot.value);
}

function unitViews(source: StatusSource, snapshot: PlantSnapshotLike, clocks: ViewClocks): UnitView[] {
  return source.plant.units.map((unit) => {
    const actor = snapshot.context.units[unit.name];
    const s = actor?.getSnapshot();
    const state = s === undefined ? "unknown" : statusOrState(s);
    const figures = source.meters.get(unit.name)?.figures();
    const lastGood = figures?.lastGoodAt ?? null;
    const lastError = s?.context.lastError ?? null;
    return {
      name: unit.name,
      protocol: unit.protocol,
      address: addressOf(unit),
      state,
      stateValue: s?.value ?? null,
      connected: state === "connected",
      reason: state === "connected" ? null : (lastError ?? state),
      lastError,
      // The machines keep `since` on the monotonic clock; the page shows wall-clock ages.
      since: s === undefined ? 0 : Math.round(wallTimeOf(snapshot.context.deps.clock, s.context.since)),
      faults: s?.context.faults ?? 0,
      reconnects: s?.context.reconnects ?? 0,
      lastGoodSampleAgeSeconds: lastGood === null ? null : (clocks.monotonic() - lastGood) / 1000,
      requests: figures?.requests ?? null,
      errors: figures?.errors ?? {},
    };
  });
}

function tagView(unit: UnitConfig, tag: TagConfig, latest: ReadonlyMap<string, Reading>): TagView {
  const id = tagId({ unit: unit.name, tag: tag.name });
  const reading = latest.get(id);
  return {
    id,
    unit: unit.name,
    tag: tag.name,
    ...(tag.engineeringUnit !== undefined ? { engineeringUnit: tag.engineeringUnit } : {}),
    ...(tag.description !== undefined ? { description: tag.description } : {}),
    ...(tag.writable !== undefined ? { writable: { ...tag.writable } } : {}),
    value: reading?.value ?? null,
    quality: reading?.quality ?? "none",
    ...(reading?.reason !== undefined ? { reason: reading.reason } : {}),
    ...(reading !== undefined ? { time: reading.time } : {}),
  };
}

function point(ref: { unit: string; tag: string }, latest: ReadonlyMap<string, Reading>): TagPoint {
  const id = tagId(ref);
  const reading = latest.get(id);
  return {
    tag: id,
    value: reading?.value ?? null,
    quality: reading?.quality ?? "none",
    ...(reading?.reason !== undefined ? { reason: reading.reason } : {}),
  };
}

function outputLimits(source: StatusSource, loop: ControlLoopConfig): { min?: number; max?: number } {
  const tag = source.plant.units
    .find((u) => u.name === loop.output.unit)
    ?.tags.find((t) => t.name === loop.output.tag);
  return tag?.writable === undefined ? {} : { min: tag.writable.min, max: tag.writable.max };
}

function loopViews(source: StatusSource, snapshot: PlantSnapshotLike): LoopView[] {
  const latest = snapshot.context.io.latest();
  return source.plant.control.map((loop) => {
    const s = snapshot.context.loops[loop.name]?.getSnapshot();
    const c = s?.context;
    const decision = c?.decision ?? null;
    return {
      name: loop.name,
      state: s === undefined ? "unknown" : statusOrState(s),
      input: point(loop.input, latest),
      output: {
        ...point(loop.output, latest),
        lastWritten: c?.write.lastWritten ?? null,
        ...outputLimits(source, loop),
      },
      permissive: loop.permissive === undefined ? null : point(loop.permissive, latest),
      decision: decision?.kind ?? null,
      decisionValue: decision !== null && "value" in decision ? decision.value : null,
      reason: c?.lastDecision ?? null,
      failSafeActive: c?.failSafeActive ?? false,
      failSafeActivations: c?.failSafeActivations ?? 0,
      failSafeValue: loop.failSafe.value,
      evaluations: c?.evaluations ?? 0,
      writes: c?.writes ?? 0,
      writeFailures: c?.writeFailures ?? 0,
      overruns: c?.overruns ?? 0,
    };
  });
}

function fileBytes(path: string): number {
  let bytes = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      bytes += statSync(file).size;
    } catch {
      // no write-ahead log at the moment
    }
  }
  return bytes;
}

function spoolView(source: StatusSource): SpoolView {
  try {
    const s = source.spool.stats();
    return {
      held: s.held,
      dropped: s.dropped,
      deadLettered: s.deadLettered,
      pending: { ...s.pending },
      bytes: fileBytes(source.spool.path),
    };
  } catch (e) {
    return { held: 0, dropped: 0, deadLettered: 0, pending: {}, bytes: 0, error: errorMessage(e) };
  }
}

function lagSeconds(source: StatusSource, sink: string, wallNow: number): number {
  try {
    const oldest = source.spool.oldestPendingTime(sink);
    // A sample's time is a wall-clock stamp: its age can only be measured against the wall clock.
    return oldest === null ? 0 : Math.max(0, wallNow - oldest) / 1000;
  } catch {
    return 0;
  }
}

function sinkViews(
  source: StatusSource,
  snapshot: PlantSnapshotLike,
  spool: SpoolView,
  rates: SinkRates,
  wallNow: number,
): SinkView[] {
  return Object.entries(snapshot.context.forwarders).map(([name, actor]) => {
    const s = actor.getSnapshot();
    const state = statusOrState(s);
    const connected = sinkConnected(state);
    const lag = lagSeconds(source, name, wallNow);
    return {
      name,
      state,
      connected,
      reason: connected ? null : (s.context.lastError ?? state),
      delivered: s.context.delivered,
      deadLettered: s.context.deadLettered,
      retries: s.context.retries,
      batches: s.context.batches,
      pending: spool.pending[name] ?? 0,
      rowsPerSecond: rates.rowsPerSecond(name),
      lagSeconds: lag,
      draining: connected && (lag <= rates.lagLimitSeconds || rates.deliveredRecently(name)),
    };
  });
}

function machineStates(snapshot: PlantSnapshotLike): MachineState[] {
  const c = snapshot.context;
  const of = (actor: string, machine: string, s: { value: unknown; status: string }): MachineState => ({
    actor,
    machine,
    value: s.value,
    status: s.status,
  });
  return [
    of("plant", "plant", snapshot),
    ...Object.values(c.units).map((a) => of(a.id, "connection", a.getSnapshot())),
    ...Object.values(c.loops).map((a) => of(a.id, "control", a.getSnapshot())),
    of(c.storage.id, "storage", c.storage.getSnapshot()),
    ...Object.values(c.forwarders).map((a) => of(a.id, "forwarder", a.getSnapshot())),
  ];
}

/**
 * The whole view, as of now. `onlyTags` (tag ids) limits `tags` to those: the status server's
 * once-a-second sample for the trend, when no page is open, needs a few tags, not every one of a
 * plant's thousands.
 */
export function plantView(
  source: StatusSource,
  rates: SinkRates,
  clocks: ViewClocks,
  onlyTags?: ReadonlySet<string>,
): PlantView {
  const snapshot = source.snapshot();
  const wallNow = clocks.wall();
  const latest = snapshot.context.io.latest();
  const spool = spoolView(source);
  const storage = snapshot.context.storage.getSnapshot();
  return {
    plant: source.plant.name,
    time: wallNow,
    state: statusOrState(snapshot),
    units: unitViews(source, snapshot, clocks),
    tags:
      onlyTags === undefined
        ? source.plant.units.flatMap((u) => u.tags.map((t) => tagView(u, t, latest)))
        : source.plant.units.flatMap((u) =>
            u.tags
              .filter((t) => onlyTags.has(tagId({ unit: u.name, tag: t.name })))
              .map((t) => tagView(u, t, latest)),
          ),
    loops: loopViews(source, snapshot),
    storage: {
      state: statusOrState(storage),
      cycles: storage.context.cycles,
      samples: storage.context.samples,
      badSamples: storage.context.badSamples,
      overruns: storage.context.overruns,
      unstored: countSamples(storage.context.pending),
      periodMs: source.plant.storage.periodMs,
    },
    spool,
    sinks: sinkViews(source, snapshot, spool, rates, wallNow),
    machines: machineStates(snapshot),
  };
}
