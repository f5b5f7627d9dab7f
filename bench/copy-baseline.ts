/**
 * The COPY baselines of the historian bench: `COPY … FROM STDIN` streamed through one open `pg`
 * connection with pg-copy-streams, in text and in binary format — what a hand-written loader at
 * its fastest does. The rows are formatted before the clock starts; the clock covers streaming
 * them and the server storing them (one COPY, one transaction, for the whole run).
 */
import { createRequire } from "node:module";
import type { Writable } from "node:stream";
import { encodeSamples } from "../adapters/postgres/copy-binary.ts";
import type { SpooledSample } from "../adapters/types.ts";

/** One row as the baselines load it: [epoch ms, tag id, value, quality 0/1, reason]. */
export type NarrowRow = [number, number, number | null, number, string | null];

import { quoteIdent } from "../adapters/postgres/layout.ts";

interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  query<S extends Writable>(stream: S): S;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): void;
}
const require = createRequire(import.meta.url);
const { Client } = require("pg") as { Client: new (config: Record<string, unknown>) => PgClient };
const { from: copyFrom } = require("pg-copy-streams") as {
  from: (text: string) => Writable & { rowCount: number };
};

/** COPY text format: tab-separated, `\N` for null, backslash and control characters escaped. */
function copyText(value: string | null): string {
  if (value === null) return "\\N";
  return value
    .replaceAll("\\", "\\\\")
    .replaceAll("\t", "\\t")
    .replaceAll("\n", "\\n")
    .replaceAll("\r", "\\r");
}

/** The rows as COPY text, one chunk per batch. */
export function copyTextChunks(batches: readonly (readonly NarrowRow[])[]): Buffer[] {
  return batches.map((batch) => {
    const lines: string[] = [];
    for (const [ms, tagId, value, quality, reason] of batch) {
      lines.push(
        `${new Date(ms).toISOString()}\t${tagId}\t${value === null ? "\\N" : String(value)}\t${quality}\t${copyText(reason)}\n`,
      );
    }
    return Buffer.from(lines.join(""), "utf8");
  });
}

/** The samples as COPY binary (`idOf` gives each tag's id): the header with the first chunk, the trailer with the last. */
export function copyBinaryChunks(
  batches: readonly (readonly SpooledSample[])[],
  idOf: (tag: string) => number,
): Buffer[] {
  const all = batches.flat();
  const whole = encodeSamples(
    all,
    all.map((s) => idOf(s.tag)),
  );
  const chunks: Buffer[] = [];
  const size = Math.ceil(whole.length / Math.max(1, batches.length));
  for (let at = 0; at < whole.length; at += size) chunks.push(whole.subarray(at, at + size));
  return chunks;
}

/** One connection for the COPY baselines, opened before the clock starts. */
export interface CopyConnection {
  /** Streams `chunks` through one `COPY schema.table (…) FROM STDIN`; resolves with rows and ms. */
  copy(format: "text" | "binary", chunks: readonly Buffer[]): Promise<{ rows: number; ms: number }>;
  end(): Promise<void>;
}

export async function openCopyConnection(
  url: string,
  schema: string,
  table: string,
): Promise<CopyConnection> {
  const client = new Client({ connectionString: url, application_name: "plantbridge bench COPY" });
  client.on("error", () => undefined);
  await client.connect();
  const target = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  return {
    copy(format, chunks) {
      const options = format === "binary" ? " (FORMAT binary)" : "";
      return new Promise((resolve, reject) => {
        const started = performance.now();
        const stream = client.query(
          copyFrom(`COPY ${target} (time, tag_id, value, quality, reason) FROM STDIN${options}`),
        );
        stream.on("error", reject);
        stream.on("finish", () => resolve({ rows: stream.rowCount, ms: performance.now() - started }));
        // Written as fast as the socket takes them: the stream buffers, pg-copy-streams flushes.
        for (const chunk of chunks) stream.write(chunk);
        stream.end();
      });
    },
    end: () => client.end(),
  };
}
