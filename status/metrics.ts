/**
 * `GET /metrics`: Prometheus text through prom-client, collected on scrape from the figures the
 * machines, the link meters and the spool already keep — no second set of counters. Each scrape
 * takes one plant view (`scrape(view)`); every metric's `collect()` reads from it.
 */
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";
import type { LatencyFigures } from "./link-meter.ts";
import { metricSpecs as specs } from "./metric-specs.ts";
import type { PlantView } from "./plant-view.ts";

export interface PlantMetrics {
  readonly contentType: string;
  /** The metrics text as of `view`. */
  scrape(view: PlantView): Promise<string>;
  /** The names of the plant's own metrics (docs, tests). */
  readonly names: readonly string[];
  close(): void;
}

type Labels = Record<string, string>;

/**
 * The read latency histogram, straight from the link meters' buckets. prom-client's Histogram can
 * only observe values one by one, so this is a metric object of the registry's own shape
 * (name, help, type, get): the registry formats it like any histogram.
 */
function latencyHistogram(
  current: () => PlantView | undefined,
  latency: (unit: string) => LatencyFigures | undefined,
) {
  const name = "plantbridge_unit_read_duration_seconds";
  const help = "Time from a read call of the unit's link to its answer (or failure).";
  return {
    name,
    help,
    type: "histogram" as const,
    aggregator: "sum" as const,
    labelNames: ["unit"],
    reset() {},
    async get() {
      const values: { metricName: string; labels: Labels; value: number }[] = [];
      for (const unit of current()?.units ?? []) {
        const figures = latency(unit.name);
        if (figures === undefined) continue;
        let cumulative = 0;
        figures.bounds.forEach((bound, i) => {
          cumulative += figures.counts[i] ?? 0;
          values.push({
            metricName: `${name}_bucket`,
            labels: { unit: unit.name, le: String(bound) },
            value: cumulative,
          });
        });
        values.push({
          metricName: `${name}_bucket`,
          labels: { unit: unit.name, le: "+Inf" },
          value: figures.count,
        });
        values.push({ metricName: `${name}_sum`, labels: { unit: unit.name }, value: figures.sum });
        values.push({ metricName: `${name}_count`, labels: { unit: unit.name }, value: figures.count });
      }
      return { name, help, type: "histogram" as const, aggregator: "sum" as const, values };
    },
  };
}

export function createPlantMetrics(latency: (unit: string) => LatencyFigures | undefined): PlantMetrics {
  const registry = new Registry();
  let current: PlantView | undefined;
  for (const spec of specs) {
    const collect = function (this: Counter | Gauge) {
      this.reset();
      if (current === undefined) return;
      for (const [labels, value] of spec.values(current)) {
        if (this instanceof Counter) this.inc(labels, value);
        else this.set(labels, value);
      }
    };
    const config = {
      name: spec.name,
      help: spec.help,
      labelNames: [...spec.labels],
      registers: [registry],
      collect,
    };
    if (spec.kind === "counter") new Counter(config);
    else new Gauge(config);
  }
  // The registry reads only name, help, type, aggregator and get() of a metric.
  registry.registerMetric(latencyHistogram(() => current, latency) as unknown as Metric);
  collectDefaultMetrics({ register: registry });
  return {
    contentType: registry.contentType,
    names: [...specs.map((s) => s.name), "plantbridge_unit_read_duration_seconds"],
    async scrape(view) {
      current = view;
      try {
        return await registry.metrics();
      } finally {
        current = undefined;
      }
    },
    close() {
      registry.clear();
    },
  };
}
