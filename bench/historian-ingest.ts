/**
 * Historian ingest: samples/s into the narrow layout `samples(time, tag_id, value, quality, reason)`
 * with its primary key (tag_id, time), all methods into the same table (emptied before each run),
 * with the same samples (storage cycles of the reference plant's 33 tags), in batches of 5000:
 *
 * - plantbridge: `createPostgresSink(...).write(batch)`, one transaction per batch
 *   (INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING: idempotent);
 * - baseline "single-row INSERTs": one plain INSERT per sample through slonik, one transaction per batch;
 * - baseline "COPY": psql's `COPY … FROM STDIN`, one COPY (transaction) per batch (copy-baseline.ts).
 */
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import { createPostgresSink } from "../adapters/postgres/postgres-sink.ts";
import type { HistorianSink, SpooledSample } from "../adapters/types.ts";
import { silentLog } from "../lib/log.ts";
import { type CopyRow, copyScript, psqlVersion, runPsqlScript } from "./copy-baseline.ts";
import { referenceStoredTags, type StoredTags, storageCycle } from "./reference-samples.ts";
import { ratioOf, type SectionResult, type Variant, variantOf } from "./stats.ts";
import type { Workspace } from "./workspace.ts";

export interface HistorianIngestOptions {
  repeats: number;
  /** Samples per run of the sink and of COPY. */
  samples: number;
  /** Samples per run of the single-row INSERT baseline (it is slow; fewer keep the bench short). */
  insertSamples: number;
  batchSize: number;
  say: (line: string) => void;
}

type MethodKey = "sink" | "inserts" | "copy";

const tagRow = z.object({ id: z.number(), name: z.string() });
const countRow = z.object({ n: z.number() });

/** `count` samples as storage cycles, with spool sequence numbers, cut into batches. */
function sampleBatches(tags: StoredTags, count: number, batchSize: number): SpooledSample[][] {
  const all: SpooledSample[] = [];
  for (let cycle = 0; all.length < count; cycle++) {
    for (const sample of storageCycle(tags, cycle)) {
      if (all.length < count) all.push({ ...sample, seq: all.length + 1 });
    }
  }
  const batches: SpooledSample[][] = [];
  for (let i = 0; i < all.length; i += batchSize) batches.push(all.slice(i, i + batchSize));
  return batches;
}

function asRow(sample: SpooledSample, ids: ReadonlyMap<string, number>): CopyRow {
  const id = ids.get(sample.tag);
  if (id === undefined) throw new Error(`historian bench: tag ${sample.tag} has no id`);
  const value = typeof sample.value === "boolean" ? (sample.value ? 1 : 0) : sample.value;
  return {
    time: sample.time,
    tagId: id,
    value,
    quality: sample.quality === "good" ? 0 : 1,
    reason: sample.reason ?? null,
  };
}

async function singleRowInserts(
  pool: DatabasePool,
  schema: string,
  batches: readonly CopyRow[][],
): Promise<void> {
  const samples = sql.identifier([schema, "samples"]);
  for (const batch of batches) {
    await pool.transaction(async (tx) => {
      for (const row of batch) {
        await tx.query(sql.unsafe`
          INSERT INTO ${samples} (time, tag_id, value, quality, reason)
          VALUES (timestamptz 'epoch' + ${row.time} * interval '1 millisecond', ${row.tagId}, ${row.value}, ${row.quality}, ${row.reason})`);
      }
    });
  }
}

export async function benchHistorianIngest(
  workspace: Workspace,
  options: HistorianIngestOptions,
): Promise<SectionResult> {
  const { say } = options;
  const schema = workspace.schemaName("ingest");
  const psql = psqlVersion();
  let sink: HistorianSink | undefined;
  let pool: DatabasePool | undefined;
  try {
    const tags = await referenceStoredTags(workspace.dir);
    const infos = tags.infos;
    sink = createPostgresSink({
      url: workspace.databaseUrl,
      historian: { schema, layout: "narrow", alterTable: true },
      log: silentLog(),
      statementTimeoutMs: 120_000,
    });
    await sink.open(infos);
    pool = await workspace.pool();
    const ids = new Map(
      (await pool.any(sql.type(tagRow)`SELECT id, name FROM ${sql.identifier([schema, "tags"])}`)).map(
        (r) => [r.name, r.id],
      ),
    );
    const batches = sampleBatches(tags, options.samples, options.batchSize);
    const rowBatches = batches.map((batch) => batch.map((s) => asRow(s, ids)));
    const insertBatches = rowBatches.slice(0, Math.ceil(options.insertSamples / options.batchSize));
    const script = psql !== undefined ? copyScript(schema, "samples", rowBatches) : "";
    const db = pool;
    const writer = sink;

    const emptyTable = () => db.query(sql.unsafe`TRUNCATE ${sql.identifier([schema, "samples"])}`);
    const stored = () =>
      db.oneFirst(sql.type(countRow)`SELECT count(*) AS n FROM ${sql.identifier([schema, "samples"])}`);
    const methods: Record<MethodKey, { samples: number; run: (warmUp: boolean) => Promise<number> }> = {
      sink: {
        samples: options.samples,
        run: async (warmUp) => {
          const started = performance.now();
          for (const batch of warmUp ? batches.slice(0, 2) : batches) await writer.write(batch);
          return performance.now() - started;
        },
      },
      inserts: {
        samples: insertBatches.reduce((n, b) => n + b.length, 0),
        run: async (warmUp) => {
          const started = performance.now();
          await singleRowInserts(db, schema, warmUp ? insertBatches.slice(0, 1) : insertBatches);
          return performance.now() - started;
        },
      },
      copy: {
        samples: options.samples,
        run: (warmUp) =>
          runPsqlScript(
            workspace.databaseUrl,
            warmUp ? copyScript(schema, "samples", rowBatches.slice(0, 2)) : script,
          ),
      },
    };
    const keys: MethodKey[] = psql !== undefined ? ["sink", "inserts", "copy"] : ["sink", "inserts"];

    say("historian ingest: warm-up");
    for (const key of keys) {
      await emptyTable();
      await methods[key].run(true);
    }
    const repeats: Record<MethodKey, Record<string, number>[]> = { sink: [], inserts: [], copy: [] };
    const shortfalls: string[] = [];
    for (let r = 0; r < options.repeats; r++) {
      // Rotate the order so no method always runs first (or on a just-truncated, cold table).
      const order = keys.map((_, i) => keys[(i + r) % keys.length]!);
      for (const key of order) {
        await emptyTable();
        say(`historian ingest: ${key} run ${r + 1}/${options.repeats} (${methods[key].samples} samples)`);
        const ms = await methods[key].run(false);
        const rows = await stored();
        if (rows !== methods[key].samples)
          shortfalls.push(`${key} run ${r + 1} stored ${rows} of ${methods[key].samples}`);
        repeats[key].push({
          "samples/s": methods[key].samples / (ms / 1000),
          samples: methods[key].samples,
          "ms/batch": ms / Math.ceil(methods[key].samples / options.batchSize),
        });
      }
    }

    const candidate = variantOf(
      "createPostgresSink().write (unnest, ON CONFLICT DO NOTHING)",
      "plantbridge",
      repeats.sink,
    );
    const inserts = variantOf(
      "single-row INSERTs via slonik, 1 transaction per batch",
      "baseline",
      repeats.inserts,
    );
    const variants: Variant[] = [candidate, inserts];
    const ratios = [ratioOf("samples/s plantbridge / single-row INSERTs", candidate, inserts, "samples/s")];
    const notes = [
      `Batches of ${options.batchSize} samples (storage cycles of the reference plant's ${infos.length} tags, 16 of them booleans), ` +
        `into samples with primary key (tag_id, time), the table emptied before each run; medians of ${options.repeats} runs, order rotating.`,
      `Single-row INSERTs run ${methods.inserts.samples} samples per run (not ${options.samples}: at their rate that would take minutes).`,
      "Timing covers the writes only: the samples are built before the clock starts.",
      `Database: ${workspace.databaseKind}.`,
    ];
    if (psql !== undefined) {
      const copy = variantOf("COPY FROM STDIN through psql, 1 COPY per batch", "baseline", repeats.copy);
      variants.push(copy);
      ratios.push(ratioOf("samples/s plantbridge / COPY", candidate, copy, "samples/s"));
      notes.push(
        `COPY uses a machine tool, not an npm package: ${psql} (pg alone cannot stream COPY). Its time includes ` +
          "starting psql and connecting (a few ms); its rows are formatted before the clock starts; COPY has no ON CONFLICT, so it is not idempotent.",
      );
    } else {
      notes.push(
        "COPY baseline skipped: psql is not installed on this machine (pg alone cannot stream COPY).",
      );
    }
    notes.push(...shortfalls.map((s) => `CHECK FAILED: ${s}`));
    return {
      id: "historian-ingest",
      title: "3. Historian ingest: narrow layout, PostgreSQL",
      columns: [
        { name: "samples/s", unit: "" },
        { name: "ms/batch", unit: "" },
        { name: "samples", unit: "" },
      ],
      variants,
      ratios,
      goal:
        "DESIGN: measured against PostgreSQL COPY. STACK reference (PostgreSQL 15, 2 M rows): slonik unnest ≈ 185 k rows/s, " +
        "ON CONFLICT DO NOTHING another ~25 % slower; COPY text 0.37–0.40 M rows/s.",
      notes,
    };
  } finally {
    await sink?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await workspace.dropSchema(schema).catch(() => undefined);
  }
}
