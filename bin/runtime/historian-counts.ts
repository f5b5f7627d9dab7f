import { createPool, sql } from "slonik";
import { z } from "zod";
import type { HistorianConfig } from "../../schemas/plant-types.ts";

const unitCount = z.object({ unit: z.string(), samples: z.number(), signals: z.number(), bad: z.number() });

export interface UnitCounts {
  samples: number;
  signals: number;
  bad: number;
}

/** Samples stored per unit in a narrow-layout historian: what `plantbridge sim` reports. */
export async function countStoredSamples(
  url: string,
  historian: HistorianConfig,
): Promise<Record<string, UnitCounts>> {
  const pool = await createPool(url, { maximumPoolSize: 1 });
  try {
    const samples = sql.identifier([historian.schema, "samples"]);
    const tags = sql.identifier([historian.schema, "tags"]);
    const rows = await pool.any(sql.type(unitCount)`
      SELECT t.unit AS unit,
             count(*)::int AS samples,
             count(DISTINCT t.name)::int AS signals,
             count(*) FILTER (WHERE s.quality <> 0)::int AS bad
      FROM ${samples} s JOIN ${tags} t ON t.id = s.tag_id
      GROUP BY t.unit ORDER BY t.unit`);
    return Object.fromEntries(
      rows.map((r) => [r.unit, { samples: r.samples, signals: r.signals, bad: r.bad }]),
    );
  } finally {
    await pool.end();
  }
}
