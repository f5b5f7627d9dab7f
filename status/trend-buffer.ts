/**
 * The last 15 minutes of each control loop's trend — demand (the loop's input), the set point it
 * wrote, and the measured value it acts on — one point a second, so a page opened now shows the
 * last quarter of an hour at once. Bounded: the oldest points leave as new ones come.
 */
import type { PlantConfig, TagConfig } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import type { PlantView } from "./plant-view.ts";

export interface TrendSeries {
  /** What the line shows, e.g. `METH.h2_demand`. */
  tag: string;
  label: string;
  engineeringUnit?: string;
  values: (number | null)[];
}

export interface LoopTrend {
  loop: string;
  /** Epoch seconds of each point. */
  time: number[];
  demand: TrendSeries;
  setpoint: TrendSeries;
  /** The output unit's measured counterpart of the set point, when the plant has one. */
  measured: TrendSeries | null;
}

export interface TrendBuffer {
  /** The tag ids the trends show: `add` reads only these of the view's tags. */
  readonly tags: ReadonlySet<string>;
  add(view: PlantView): void;
  trends(): LoopTrend[];
}

function tagOf(plant: PlantConfig, unit: string, tag: string): TagConfig | undefined {
  return plant.units.find((u) => u.name === unit)?.tags.find((t) => t.name === tag);
}

/**
 * The measured value of a set point: a read-only tag of the same unit in the same engineering unit
 * (PEMEL.current_setpoint in A → PEMEL.el_current_act in A); the one whose name shares the most
 * words with the set point's wins.
 */
export function measuredTag(plant: PlantConfig, unit: string, setpoint: string): string | undefined {
  const out = tagOf(plant, unit, setpoint);
  if (out?.engineeringUnit === undefined) return undefined;
  const words = new Set(setpoint.toLowerCase().split(/[^a-z0-9]+/));
  const candidates = (plant.units.find((u) => u.name === unit)?.tags ?? []).filter(
    (t) => t.writable === undefined && t.engineeringUnit === out.engineeringUnit,
  );
  const score = (t: TagConfig) =>
    t.name
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((w) => words.has(w)).length;
  return candidates.sort((a, b) => score(b) - score(a))[0]?.name;
}

export function createTrendBuffer(plant: PlantConfig, points = 900): TrendBuffer {
  const series = (ref: { unit: string; tag: string }, label: string): TrendSeries => {
    const engineeringUnit = tagOf(plant, ref.unit, ref.tag)?.engineeringUnit;
    return {
      tag: tagId(ref),
      label,
      ...(engineeringUnit !== undefined ? { engineeringUnit } : {}),
      values: [],
    };
  };
  const trends: LoopTrend[] = plant.control.map((loop) => {
    const measured = measuredTag(plant, loop.output.unit, loop.output.tag);
    return {
      loop: loop.name,
      time: [],
      demand: series(loop.input, "demand"),
      setpoint: series(loop.output, "set point written"),
      measured: measured === undefined ? null : series({ unit: loop.output.unit, tag: measured }, "measured"),
    };
  });
  const numeric = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const tags = new Set(
    trends.flatMap((t) => [t.demand.tag, t.setpoint.tag, ...(t.measured ? [t.measured.tag] : [])]),
  );
  return {
    tags,
    add(view) {
      if (trends.length === 0) return;
      const values = new Map<string, number | null>();
      for (const t of view.tags)
        if (tags.has(t.id)) values.set(t.id, t.quality === "good" ? numeric(t.value) : null);
      for (const trend of trends) {
        const loop = view.loops.find((l) => l.name === trend.loop);
        trend.time.push(Math.round(view.time / 100) / 10);
        trend.demand.values.push(values.get(trend.demand.tag) ?? null);
        trend.setpoint.values.push(loop?.output.lastWritten ?? null);
        trend.measured?.values.push(values.get(trend.measured.tag) ?? null);
        if (trend.time.length > points) {
          trend.time.shift();
          trend.demand.values.shift();
          trend.setpoint.values.shift();
          trend.measured?.values.shift();
        }
      }
    },
    trends: () => trends,
  };
}
