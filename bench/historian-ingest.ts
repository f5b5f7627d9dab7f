/**
 * Historian ingest: samples/s into the narrow layout `samples(time, tag_id, value, quality, reason)`
 * with its primary key (tag_id, time), the BRIN index on time and the foreign key to `tags` — the
 * table the sink creates — all methods into the same table (emptied before each run), with the
 * same samples (storage cycles of the reference plant's 33 tags):
 *
 * - plantbridge: `createPostgresSink(...).write(batch)`, batches of `batchSize` one after another
 *   as the forwarder delivers them, one transaction each, idempotent (binary COPY; a batch that
 *   meets stored rows goes through the staging table with ON CONFLICT);
 * - plantbridge replay: the same batches written again into the full table (every row already
 *   stored: the staging path, which tells replays from conflicts);
 * - baselines "COPY text" and "COPY binary": one `COPY … FROM STDIN` streamed through one open
 *   connection (pg-copy-streams), rows formatted before the clock (copy-baseline.ts);
 * - baseline "single-row INSERTs": one plain INSERT per sample through slonik, one transaction per batch.
 */
import { type DatabasePool, sql } from "slonik";
import { createPostgresSink } from "../adapters/postgres/postgres-sink.ts";
import type { HistorianSink } from "../adapters/types.ts";
import { silentLog } from "../lib/log.ts";
import { openCopyConnection } from "./copy-baseline.ts";
import {
  countRow,
  ingestMethods,
  type Method,
  type MethodKey,
  methodKeys,
  sampleBatches,
  tagRow,
} from "./ingest-methods.ts";
import { referenceStoredTags } from "./reference-samples.ts";
import { backendCpuMs, withApplicationName } from "./server-cpu.ts";
import { ratioOf, type SectionResult, variantOf } from "./stats.ts";
import type { Workspace } from "./workspace.ts";

export interface HistorianIngestOptions {
  repeats: number;
  /** Samples per run of the sink and of COPY. */
  samples: number;
  /** Samples per run of the single-row INSERT baseline (it is slow; fewer keep the bench short). */
  insertSamples: number;
  batchSize: number;
  /** Batches in flight at once, as the forwarder keeps them. */
  depth: number;
  say: (line: string) => void;
}

/** Warm-up, then `repeats` rounds of every method in rotating order, each on an emptied table. */
async function runRounds(
  db: DatabasePool,
  schema: string,
  methods: Record<MethodKey, Method>,
  options: HistorianIngestOptions,
): Promise<{ repeats: Record<MethodKey, Record<string, number>[]>; shortfalls: string[] }> {
  const { say } = options;
  const emptyTable = () => db.query(sql.unsafe`TRUNCATE ${sql.identifier([schema, "samples"])}`);
  const stored = () =>
    db.oneFirst(sql.type(countRow)`SELECT count(*) AS n FROM ${sql.identifier([schema, "samples"])}`);

  say("historian ingest: warm-up");
  for (const key of methodKeys) {
    await emptyTable();
    await methods[key].run(true);
  }
  const repeats: Record<MethodKey, Record<string, number>[]> = {
    sink: [],
    sinkSerial: [],
    replay: [],
    copyText: [],
    copyBinary: [],
    inserts: [],
  };
  const shortfalls: string[] = [];
  const batchCount = (samples: number) => Math.ceil(samples / options.batchSize);
  for (let r = 0; r < options.repeats; r++) {
    // Rotate the order so no method always runs first (or on a just-truncated, cold table).
    const order = methodKeys.map((_, i) => methodKeys[(i + r) % methodKeys.length] as MethodKey);
    for (const key of order) {
      const method = methods[key];
      await emptyTable();
      await method.prepare?.();
      say(`historian ingest: ${key} run ${r + 1}/${options.repeats} (${method.samples} samples)`);
      const serverBefore = method.backends ? await backendCpuMs(db, method.backends) : Number.NaN;
      const { ms, cpuMs } = await method.run(false);
      const serverMs = method.backends
        ? (await backendCpuMs(db, method.backends)) - serverBefore
        : Number.NaN;
      const rows = await stored();
      const expected = key === "replay" ? options.samples : method.samples;
      if (rows !== expected) shortfalls.push(`${key} run ${r + 1} left ${rows} rows, expected ${expected}`);
      repeats[key].push({
        "samples/s": method.samples / (ms / 1000),
        samples: method.samples,
        "ms/batch": ms / batchCount(method.samples),
        "cpu µs/sample": (cpuMs * 1000) / method.samples,
        "server cpu µs/sample": (serverMs * 1000) / method.samples,
      });
    }
  }

  return { repeats, shortfalls };
}

/** The stage's table, ratios, flat figures and notes from the rounds' figures. */
function ingestSection(
  methods: Record<MethodKey, Method>,
  repeats: Record<MethodKey, Record<string, number>[]>,
  shortfalls: readonly string[],
  options: HistorianIngestOptions & { tags: number; databaseKind: string },
): SectionResult {
  const variant = (key: MethodKey) => variantOf(methods[key].label, methods[key].role, repeats[key]);
  const [sinkV, serialV, replayV, textV, binaryV, insertsV] = methodKeys.map(variant) as [
    ReturnType<typeof variant>,
    ReturnType<typeof variant>,
    ReturnType<typeof variant>,
    ReturnType<typeof variant>,
    ReturnType<typeof variant>,
    ReturnType<typeof variant>,
  ];
  const ratios = [
    ratioOf("samples/s plantbridge / COPY text", sinkV, textV, "samples/s"),
    ratioOf("samples/s plantbridge / COPY binary", sinkV, binaryV, "samples/s"),
    ratioOf("samples/s plantbridge replay / COPY text", replayV, textV, "samples/s"),
    ratioOf("samples/s plantbridge / single-row INSERTs", sinkV, insertsV, "samples/s"),
  ];
  const flat: Record<string, number> = {
    "ingest.samples_per_s": sinkV.figures["samples/s"] ?? Number.NaN,
    "ingest.serial_samples_per_s": serialV.figures["samples/s"] ?? Number.NaN,
    "ingest.replay_samples_per_s": replayV.figures["samples/s"] ?? Number.NaN,
    "ingest.copy_text_rows_per_s": textV.figures["samples/s"] ?? Number.NaN,
    "ingest.copy_binary_rows_per_s": binaryV.figures["samples/s"] ?? Number.NaN,
    "ingest.single_inserts_per_s": insertsV.figures["samples/s"] ?? Number.NaN,
    "ingest.ratio_vs_copy_text": ratios[0]?.value ?? Number.NaN,
    "ingest.server_cpu_us_per_sample": sinkV.figures["server cpu µs/sample"] ?? Number.NaN,
    "ingest.copy_text_server_cpu_us_per_row": textV.figures["server cpu µs/sample"] ?? Number.NaN,
    "ingest.copy_binary_server_cpu_us_per_row": binaryV.figures["server cpu µs/sample"] ?? Number.NaN,
    "ingest.ratio_vs_copy_binary": ratios[1]?.value ?? Number.NaN,
    "ingest.replay_ratio_vs_copy_text": ratios[2]?.value ?? Number.NaN,
    "ingest.batch_size": options.batchSize,
  };
  const notes = [
    `${options.samples} samples per run (storage cycles of the reference plant's ${options.tags} tags, 16 of them booleans) into ` +
      "samples with primary key (tag_id, time), the BRIN index on time and the foreign key to tags, emptied before each run " +
      `(the replay run fills it first, outside the clock); medians of ${options.repeats} runs, order rotating.`,
    `The sink writes batches of ${options.batchSize} (storage.spool.batchSize's default) one after another, each its own transaction, ` +
      "its rows built from the spooled samples inside the clock. COPY streams the whole run as one statement through one open " +
      "connection, its rows formatted before the clock: the fastest a hand-written loader can be, and not idempotent.",
    `Single-row INSERTs run ${methods.inserts.samples} samples per run (at their rate more would take minutes).`,
    "cpu µs/sample is the bench process's CPU (the client side); server cpu µs/sample the CPU time of the PostgreSQL backends " +
      "serving the method's connections (from /proc, 10 ms ticks): less disturbed by other load than wall time.",
    `Database: ${options.databaseKind}.`,
    ...shortfalls.map((s) => `CHECK FAILED: ${s}`),
  ];
  return {
    id: "historian-ingest",
    title: "3. Historian ingest: narrow layout, PostgreSQL",
    columns: [
      { name: "samples/s", unit: "" },
      { name: "ms/batch", unit: "" },
      { name: "cpu µs/sample", unit: "" },
      { name: "server cpu µs/sample", unit: "" },
      { name: "samples", unit: "" },
    ],
    variants: [sinkV, serialV, replayV, textV, binaryV, insertsV],
    ratios,
    goal:
      "Issue 10: plantbridge's idempotent ingest ≥ 0.8 × streamed COPY text in the same run. STACK reference (PostgreSQL 15, " +
      "2 M rows, quiet machine): COPY text 0.37–0.40 M rows/s, COPY binary 0.50–0.53 M rows/s.",
    notes,
    flat,
  };
}

export async function benchHistorianIngest(
  workspace: Workspace,
  options: HistorianIngestOptions,
): Promise<SectionResult> {
  const schema = workspace.schemaName("ingest");
  let sink: HistorianSink | undefined;
  let pool: DatabasePool | undefined;
  let copier: Awaited<ReturnType<typeof openCopyConnection>> | undefined;
  try {
    const tags = await referenceStoredTags(workspace.dir);
    const infos = tags.infos;
    const sinkName = `${schema}_sink`;
    const copyName = `${schema}_copy`;
    sink = createPostgresSink({
      url: withApplicationName(workspace.databaseUrl, sinkName),
      historian: { schema, layout: "narrow", alterTable: true },
      log: silentLog(),
      statementTimeoutMs: 120_000,
      writers: options.depth,
    });
    await sink.open(infos);
    pool = await workspace.pool();
    copier = await openCopyConnection(
      withApplicationName(workspace.databaseUrl, copyName),
      schema,
      "samples",
    );
    const ids = new Map(
      (await pool.any(sql.type(tagRow)`SELECT id, name FROM ${sql.identifier([schema, "tags"])}`)).map(
        (r) => [r.name, r.id],
      ),
    );
    const methods = ingestMethods({
      schema,
      db: pool,
      sink,
      copy: copier,
      sinkName,
      copyName,
      ids,
      batches: sampleBatches(tags, options.samples, options.batchSize),
      options,
    });
    const { repeats, shortfalls } = await runRounds(pool, schema, methods, options);

    return ingestSection(methods, repeats, shortfalls, {
      ...options,
      tags: infos.length,
      databaseKind: workspace.databaseKind,
    });
  } finally {
    await sink?.close().catch(() => undefined);
    await copier?.end().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await workspace.dropSchema(schema).catch(() => undefined);
  }
}
