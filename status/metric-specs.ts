/**
 * The plant's own metrics: name, help, labels, kind, and where each value comes from in the plant
 * view. Prometheus conventions: `plantbridge_…`, counters end in `_total`, durations in `_seconds`.
 */
import type { PlantView } from "./plant-view.ts";

export type Sample = [Record<string, string>, number];

export interface MetricSpec {
  name: string;
  help: string;
  labels: readonly string[];
  kind: "counter" | "gauge";
  values: (view: PlantView) => Sample[];
}

export const metricSpecs: readonly MetricSpec[] = [
  // ---- units (connection machine, link meter)
  {
    name: "plantbridge_unit_connected",
    help: "1 while the unit's connection machine is in state connected, else 0.",
    labels: ["unit"],
    kind: "gauge",
    values: (v) => v.units.map((u) => [{ unit: u.name }, u.connected ? 1 : 0]),
  },
  {
    name: "plantbridge_unit_requests_total",
    help: "Calls of the unit's link by operation (read, write, subscribe, connect).",
    labels: ["unit", "operation"],
    kind: "counter",
    values: (v) =>
      v.units.flatMap((u) =>
        Object.entries(u.requests ?? {}).map(([operation, n]): Sample => [{ unit: u.name, operation }, n]),
      ),
  },
  {
    name: "plantbridge_unit_errors_total",
    help: "Failed link calls by error code (a read with bad values counts once per code among them).",
    labels: ["unit", "code"],
    kind: "counter",
    values: (v) =>
      v.units.flatMap((u) =>
        Object.entries(u.errors).map(([code, n]): Sample => [{ unit: u.name, code }, n]),
      ),
  },
  {
    name: "plantbridge_unit_faults_total",
    help: "Times the unit's connection went to faulted (failed connects and lost links).",
    labels: ["unit"],
    kind: "counter",
    values: (v) => v.units.map((u) => [{ unit: u.name }, u.faults]),
  },
  {
    name: "plantbridge_unit_reconnects_total",
    help: "Successful connects of the unit after its first one.",
    labels: ["unit"],
    kind: "counter",
    values: (v) => v.units.map((u) => [{ unit: u.name }, u.reconnects]),
  },
  {
    name: "plantbridge_unit_last_good_value_age_seconds",
    help: "Seconds since the unit last delivered a good value (read or pushed); absent before the first.",
    labels: ["unit"],
    kind: "gauge",
    values: (v) =>
      v.units.flatMap((u): Sample[] =>
        u.lastGoodSampleAgeSeconds === null ? [] : [[{ unit: u.name }, u.lastGoodSampleAgeSeconds]],
      ),
  },
  // ---- control loops (control machine)
  ...loopCounter("evaluations", "Evaluations of the control loop.", (l) => l.evaluations),
  ...loopCounter("writes", "Set points the control loop wrote successfully.", (l) => l.writes),
  ...loopCounter(
    "write_failures",
    "Set point writes that failed (retried at the next evaluation).",
    (l) => l.writeFailures,
  ),
  ...loopCounter(
    "fail_safe_activations",
    "Times the control loop's fail-safe took over.",
    (l) => l.failSafeActivations,
  ),
  ...loopCounter(
    "overruns",
    "Periodic evaluations skipped because the previous one ran past its slot.",
    (l) => l.overruns,
  ),
  {
    name: "plantbridge_control_fail_safe_active",
    help: "1 while the control loop holds its fail-safe value.",
    labels: ["loop"],
    kind: "gauge",
    values: (v) => v.loops.map((l) => [{ loop: l.name }, l.failSafeActive ? 1 : 0]),
  },
  {
    name: "plantbridge_control_setpoint",
    help: "The set point the control loop last wrote (engineering units); absent before the first write.",
    labels: ["loop"],
    kind: "gauge",
    values: (v) =>
      v.loops.flatMap((l): Sample[] =>
        l.output.lastWritten === null ? [] : [[{ loop: l.name }, l.output.lastWritten]],
      ),
  },
  // ---- storage (storage machine)
  storageCounter("cycles", "Storage cycles taken.", (v) => v.storage.cycles),
  storageCounter("samples", "Samples taken (good and bad).", (v) => v.storage.samples),
  storageCounter(
    "bad_samples",
    "Bad-quality samples taken (stored with their reason).",
    (v) => v.storage.badSamples,
  ),
  storageCounter(
    "overruns",
    "Storage cycles skipped because the previous one ran past its slot.",
    (v) => v.storage.overruns,
  ),
  // ---- spool
  {
    name: "plantbridge_spool_depth",
    help: "Samples in the spool the sink has not taken yet.",
    labels: ["sink"],
    kind: "gauge",
    values: (v) => Object.entries(v.spool.pending).map(([sink, n]): Sample => [{ sink }, n]),
  },
  spoolFigure(
    "plantbridge_spool_held_samples",
    "gauge",
    "Samples held in the spool file.",
    (v) => v.spool.held,
  ),
  spoolFigure(
    "plantbridge_spool_bytes",
    "gauge",
    "Size of the spool file and its write-ahead log.",
    (v) => v.spool.bytes,
  ),
  spoolFigure(
    "plantbridge_spool_dropped_total",
    "counter",
    "Samples dropped because the spool was full (oldest first).",
    (v) => v.spool.dropped,
  ),
  spoolFigure(
    "plantbridge_spool_dead_lettered_total",
    "counter",
    "Samples a sink refused, kept in the dead-letter table.",
    (v) => v.spool.deadLettered,
  ),
  // ---- forwarders (forwarder machine)
  ...sinkFigure(
    "plantbridge_forwarder_rows_total",
    "counter",
    "Samples the forwarder delivered to the sink.",
    (s) => s.delivered,
  ),
  ...sinkFigure(
    "plantbridge_forwarder_rows_per_second",
    "gauge",
    "Samples delivered per second over the last 10 s.",
    (s) => s.rowsPerSecond,
  ),
  ...sinkFigure(
    "plantbridge_forwarder_lag_seconds",
    "gauge",
    "Age of the oldest sample the sink has not taken yet (0 when none waits).",
    (s) => s.lagSeconds,
  ),
  ...sinkFigure("plantbridge_forwarder_connected", "gauge", "1 while the forwarder reaches its sink.", (s) =>
    s.connected ? 1 : 0,
  ),
  ...sinkFigure(
    "plantbridge_forwarder_retries_total",
    "counter",
    "Times the sink was found unavailable.",
    (s) => s.retries,
  ),
  ...sinkFigure(
    "plantbridge_forwarder_batches_total",
    "counter",
    "Successful sink writes (transactions).",
    (s) => s.batches,
  ),
];

function loopCounter(
  what: string,
  help: string,
  figure: (l: PlantView["loops"][number]) => number,
): MetricSpec[] {
  return [
    {
      name: `plantbridge_control_${what}_total`,
      help,
      labels: ["loop"],
      kind: "counter",
      values: (v) => v.loops.map((l) => [{ loop: l.name }, figure(l)]),
    },
  ];
}

function storageCounter(what: string, help: string, figure: (v: PlantView) => number): MetricSpec {
  return {
    name: `plantbridge_storage_${what}_total`,
    help,
    labels: [],
    kind: "counter",
    values: (v) => [[{}, figure(v)]],
  };
}

function spoolFigure(
  name: string,
  kind: MetricSpec["kind"],
  help: string,
  figure: (v: PlantView) => number,
): MetricSpec {
  return { name, help, labels: [], kind, values: (v) => [[{}, figure(v)]] };
}

function sinkFigure(
  name: string,
  kind: MetricSpec["kind"],
  help: string,
  figure: (s: PlantView["sinks"][number]) => number,
): MetricSpec[] {
  return [
    { name, help, labels: ["sink"], kind, values: (v) => v.sinks.map((s) => [{ sink: s.name }, figure(s)]) },
  ];
}
