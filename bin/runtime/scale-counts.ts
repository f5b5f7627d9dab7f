import { createPool, sql } from "slonik";
import { z } from "zod";
import type { HistorianConfig } from "../../schemas/plant-types.ts";
import type { UnitCounts } from "./historian-counts.ts";

const unitCount = z.object({ unit: z.string(), samples: z.number(), signals: z.number(), bad: z.number() });
const slotCount = z.object({ slots: z.number(), complete: z.number() });

export interface ScaleCounts {
  units: Record<string, UnitCounts>;
  /** Storage slots (distinct sample times) stored, and those holding a sample of every tag. */
  slots: number;
  completeSlots: number;
}

/**
 * What `plantbridge sim --scale` stored in this run (sample times from `fromMs` on) in a
 * narrow-layout historian: samples per unit, and slots whole or not (`tagsPerSlot` samples each).
 */
export async function countScaleSamples(
  url: string,
  historian: HistorianConfig,
  fromMs: number,
  tagsPerSlot: number,
): Promise<ScaleCounts> {
  const pool = await createPool(url, { maximumPoolSize: 1 });
  try {
    const samples = sql.identifier([historian.schema, "samples"]);
    const tags = sql.identifier([historian.schema, "tags"]);
    const from = sql.fragment`to_timestamp(${fromMs}::float8 / 1000)`;
    const rows = await pool.any(sql.type(unitCount)`
      SELECT t.unit AS unit,
             count(*)::int AS samples,
             count(DISTINCT t.name)::int AS signals,
             count(*) FILTER (WHERE s.quality <> 0)::int AS bad
      FROM ${samples} s JOIN ${tags} t ON t.id = s.tag_id
      WHERE s.time >= ${from}
      GROUP BY t.unit ORDER BY t.unit`);
    const slots = await pool.one(sql.type(slotCount)`
      SELECT count(*)::int AS slots, count(*) FILTER (WHERE n = ${tagsPerSlot})::int AS complete
      FROM (SELECT count(*) AS n FROM ${samples} WHERE time >= ${from} GROUP BY time) per_slot`);
    return {
      units: Object.fromEntries(
        rows.map((r) => [r.unit, { samples: r.samples, signals: r.signals, bad: r.bad }]),
      ),
      slots: slots.slots,
      completeSlots: slots.complete,
    };
  } finally {
    await pool.end();
  }
}
