/**
 * The shapes of the plant view that the status page, /api/snapshot and the event stream carry:
 * chosen figures only, never a machine context.
 */
import type { Reading } from "../adapters/types.ts";
import type { UnitConfig } from "../schemas/plant-types.ts";
import type { LinkFigures } from "./link-meter.ts";

export interface UnitView {
  name: string;
  protocol: UnitConfig["protocol"];
  /** host:port (Modbus) or the endpoint without any user information (OPC UA). */
  address: string;
  /** Top-level state of the unit's connection machine, and its full state value. */
  state: string;
  stateValue: unknown;
  connected: boolean;
  /** Why the unit is not connected (its last error); null while connected. */
  reason: string | null;
  lastError: string | null;
  /** Epoch ms when the connection entered its current state. */
  since: number;
  faults: number;
  reconnects: number;
  /** Seconds since the unit last delivered a good value; null: none yet. */
  lastGoodSampleAgeSeconds: number | null;
  requests: LinkFigures["requests"] | null;
  errors: Record<string, number>;
}

export interface TagView {
  id: string;
  unit: string;
  tag: string;
  engineeringUnit?: string;
  description?: string;
  writable?: { min: number; max: number };
  value: number | boolean | null;
  /** `none`: nobody has read the tag yet (no loop or storage uses it, or the first read is still due). */
  quality: Reading["quality"] | "none";
  reason?: string;
  /** Epoch ms of the reading. */
  time?: number;
}

export interface TagPoint {
  tag: string;
  value: number | boolean | null;
  quality: TagView["quality"];
  reason?: string;
}

export interface LoopView {
  name: string;
  state: string;
  input: TagPoint;
  output: TagPoint & { lastWritten: number | null; min?: number; max?: number };
  permissive: TagPoint | null;
  /** follow, permissive-off, hold, fail-safe; null before the first evaluation. */
  decision: string | null;
  /** The value the decision asks for (follow and fail-safe only). */
  decisionValue: number | null;
  /** The decision in words, with its reason (as logged). */
  reason: string | null;
  failSafeActive: boolean;
  failSafeActivations: number;
  failSafeValue: number;
  evaluations: number;
  writes: number;
  writeFailures: number;
  overruns: number;
}

export interface SinkView {
  name: string;
  state: string;
  connected: boolean;
  reason: string | null;
  delivered: number;
  deadLettered: number;
  retries: number;
  batches: number;
  pending: number;
  rowsPerSecond: number;
  /** Age of the oldest sample the sink has not taken yet, seconds (0 when it has them all). */
  lagSeconds: number;
  draining: boolean;
}

export interface SpoolView {
  held: number;
  dropped: number;
  deadLettered: number;
  pending: Record<string, number>;
  /** The spool file and its write-ahead log on disk. */
  bytes: number;
  error?: string;
}

export interface StorageView {
  state: string;
  cycles: number;
  samples: number;
  badSamples: number;
  overruns: number;
  unstored: number;
  periodMs: number;
}

export interface MachineState {
  /** Actor id: `plant`, `unit:PEMEL`, `loop:NAME`, `storage`, `forwarder:postgres`. */
  actor: string;
  /** The machine definition it runs (machines/machine-catalogue.ts). */
  machine: string;
  value: unknown;
  status: string;
}

export interface PlantView {
  plant: string;
  /** Epoch ms when the view was taken. */
  time: number;
  state: string;
  units: UnitView[];
  tags: TagView[];
  loops: LoopView[];
  storage: StorageView;
  spool: SpoolView;
  sinks: SinkView[];
  machines: MachineState[];
}
