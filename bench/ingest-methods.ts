/**
 * The methods of the historian ingest bench (historian-ingest.ts): plantbridge's sink (batches
 * pipelined as the forwarder delivers them, one after another, replayed) and the baselines
 * (streamed COPY text and binary, single-row INSERTs), each a function that writes the run's samples
 * and gives its wall and CPU time.
 */
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import type { HistorianSink, SpooledSample } from "../adapters/types.ts";
import { runPipeline } from "../machines/pipeline.ts";
import { type CopyConnection, copyBinaryChunks, copyTextChunks, type NarrowRow } from "./copy-baseline.ts";
import { type StoredTags, storageCycle } from "./reference-samples.ts";

export const methodKeys = ["sink", "sinkSerial", "replay", "copyText", "copyBinary", "inserts"] as const;
export type MethodKey = (typeof methodKeys)[number];

export const tagRow = z.object({ id: z.number(), name: z.string() });
export const countRow = z.object({ n: z.number() });

/** `count` samples as storage cycles, with spool sequence numbers, cut into batches. */
export function sampleBatches(tags: StoredTags, count: number, batchSize: number): SpooledSample[][] {
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

export function asRow(sample: SpooledSample, ids: ReadonlyMap<string, number>): NarrowRow {
  const id = ids.get(sample.tag);
  if (id === undefined) throw new Error(`historian bench: tag ${sample.tag} has no id`);
  const value = typeof sample.value === "boolean" ? (sample.value ? 1 : 0) : sample.value;
  return [sample.time, id, value, sample.quality === "good" ? 0 : 1, sample.reason ?? null];
}

async function singleRowInserts(pool: DatabasePool, schema: string, batches: readonly NarrowRow[][]) {
  const samples = sql.identifier([schema, "samples"]);
  for (const batch of batches) {
    await pool.transaction(async (tx) => {
      for (const [time, tagId, value, quality, reason] of batch) {
        await tx.query(sql.unsafe`
          INSERT INTO ${samples} (time, tag_id, value, quality, reason)
          VALUES (timestamptz 'epoch' + ${time} * interval '1 millisecond', ${tagId}, ${value}, ${quality}, ${reason})`);
      }
    });
  }
}

/** Wall ms and this process's CPU ms of `work`. */
async function timed(work: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

export interface Method {
  label: string;
  /** The application_name of its connections (their backends' CPU is the server's side), if known. */
  backends?: string;
  role: "plantbridge" | "baseline";
  samples: number;
  /** Runs on an empty table except `replay`, which fills it first (outside the clock). */
  prepare?: () => Promise<void>;
  run(warmUp: boolean): Promise<{ ms: number; cpuMs: number }>;
}

export interface MethodSetup {
  schema: string;
  db: DatabasePool;
  sink: HistorianSink;
  copy: CopyConnection;
  /** application_name of the sink's and of the COPY connections. */
  sinkName: string;
  copyName: string;
  ids: ReadonlyMap<string, number>;
  batches: readonly SpooledSample[][];
  options: { samples: number; insertSamples: number; batchSize: number; depth: number };
}

export function ingestMethods(setup: MethodSetup): Record<MethodKey, Method> {
  const { schema, db, sink, copy, sinkName, copyName, ids, batches, options } = setup;
  const rowBatches = batches.map((batch) => batch.map((s) => asRow(s, ids)));
  const insertBatches = rowBatches.slice(0, Math.ceil(options.insertSamples / options.batchSize));
  const textChunks = copyTextChunks(rowBatches);
  const idOf = (tag: string) => ids.get(tag) ?? Number.NaN;
  const binaryChunks = copyBinaryChunks(batches, idOf);
  const writer = sink;
  const writeAll = async (some: readonly SpooledSample[][]) => {
    for (const batch of some) await writer.write(batch);
  };
  /** As the forwarder delivers: up to `depth` batches in flight, settled in order. */
  const writePipelined = async (some: readonly SpooledSample[][]) => {
    let next = 0;
    const outcome = await runPipeline({
      depth: options.depth,
      take: () => some[next++],
      write: (batch) => writer.write(batch),
      settle: () => undefined,
    });
    if (outcome.failure !== undefined) throw outcome.failure;
  };
  const copyOf = (format: "text" | "binary", chunks: Buffer[]) => async (warmUp: boolean) => {
    const started = process.cpuUsage();
    const done = await copy.copy(format, warmUp ? copyTextOrBinaryHead(format) : chunks);
    const used = process.cpuUsage(started);
    return { ms: done.ms, cpuMs: (used.user + used.system) / 1000 };
  };
  const copyTextOrBinaryHead = (format: "text" | "binary") =>
    format === "text" ? copyTextChunks(rowBatches.slice(0, 2)) : copyBinaryChunks(batches.slice(0, 2), idOf);

  const methods: Record<MethodKey, Method> = {
    sink: {
      label: `createPostgresSink().write, batches of ${options.batchSize}, ${options.depth} in flight`,
      role: "plantbridge",
      backends: sinkName,
      samples: options.samples,
      run: (warmUp) => timed(() => writePipelined(warmUp ? batches.slice(0, 2) : batches)),
    },
    sinkSerial: {
      label: `createPostgresSink().write, batches of ${options.batchSize} one after another`,
      role: "plantbridge",
      backends: sinkName,
      samples: options.samples,
      run: (warmUp) => timed(() => writeAll(warmUp ? batches.slice(0, 2) : batches)),
    },
    replay: {
      label: "the same batches replayed (every row stored: staging + ON CONFLICT)",
      role: "plantbridge",
      backends: sinkName,
      samples: options.samples,
      prepare: () => writeAll(batches),
      run: (warmUp) => timed(() => writeAll(warmUp ? batches.slice(0, 2) : batches)),
    },
    copyText: {
      label: "COPY text streamed through one connection (pg-copy-streams)",
      role: "baseline",
      backends: copyName,
      samples: options.samples,
      run: copyOf("text", textChunks),
    },
    copyBinary: {
      label: "COPY binary streamed through one connection (pg-copy-streams)",
      role: "baseline",
      backends: copyName,
      samples: options.samples,
      run: copyOf("binary", binaryChunks),
    },
    inserts: {
      label: "single-row INSERTs via slonik, 1 transaction per batch",
      role: "baseline",
      samples: insertBatches.reduce((n, b) => n + b.length, 0),
      run: (warmUp) =>
        timed(() => singleRowInserts(db, schema, warmUp ? insertBatches.slice(0, 1) : insertBatches)),
    },
  };
  return methods;
}
