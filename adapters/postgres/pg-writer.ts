/**
 * The historian's writer connection: one plain `pg` Client kept open for the write path, because
 * slonik cannot stream `COPY … FROM STDIN` and the narrow layout writes its batches as binary COPY
 * (pg-copy-streams). Every statement is fixed text with bound parameters, or the COPY protocol;
 * identifiers are quoted (layout.ts quoteIdent), values never spliced. The server's statement timeout and
 * idle-in-transaction timeout bound each statement; the caller (sink-connection.ts) bounds the
 * whole call with a client-side deadline and throws the client away after an outage.
 */
import { createRequire } from "node:module";
import type { Writable } from "node:stream";
import { errorMessage } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";

/** What a query gives back (pg's Result, the parts used here). */
export interface WriterResult {
  rowCount: number | null;
  rows: Record<string, unknown>[];
}

/** The writer connection as the layouts use it. */
export interface WriterClient {
  /** One statement, `$n` parameters bound (never spliced). */
  query(text: string, values?: readonly unknown[]): Promise<WriterResult>;
  /** `COPY … FROM STDIN` with `data` as its whole input; resolves with the rows COPY stored. */
  copyIn(text: string, data: Buffer): Promise<number>;
}

export interface WriterConnection extends WriterClient {
  /** False once the connection failed or ended: throw it away. */
  readonly usable: boolean;
  end(): Promise<void>;
}

/** pg's Client (the package ships no types and @types/pg is not installed): the parts used here. */
interface PgClient {
  connect(): Promise<void>;
  query(text: string, values?: readonly unknown[]): Promise<WriterResult>;
  query<S extends Writable>(stream: S): S;
  end(): Promise<void>;
  on(event: "error" | "end", listener: (error?: Error) => void): void;
}
type PgClientClass = new (config: Record<string, unknown>) => PgClient;
type CopyFrom = (text: string) => Writable & { rowCount: number };

const require = createRequire(import.meta.url);
const { Client } = require("pg") as { Client: PgClientClass };
const { from: copyFrom } = require("pg-copy-streams") as { from: CopyFrom };

export interface WriterOptions {
  url: string;
  connectionTimeoutMs: number;
  statementTimeoutMs: number;
  log: Log;
}

/** Connects a writer; rejects when the database cannot be reached within the connection timeout. */
export async function connectWriter(options: WriterOptions): Promise<WriterConnection> {
  const client = new Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectionTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.statementTimeoutMs,
    application_name: "plantbridge historian writer",
    keepAlive: true,
  });
  let usable = true;
  // An unhandled 'error' event would end the process; the pending call rejects with the same error.
  client.on("error", (error) => {
    usable = false;
    options.log.debug({ err: errorMessage(error) }, "historian writer connection error");
  });
  client.on("end", () => {
    usable = false;
  });
  try {
    await client.connect();
  } catch (e) {
    usable = false;
    await client.end().catch(() => undefined);
    throw e;
  }
  return {
    get usable() {
      return usable;
    },
    query: (text, values) => client.query(text, values),
    copyIn(text, data) {
      return new Promise<number>((resolve, reject) => {
        const stream = client.query(copyFrom(text));
        stream.on("error", reject);
        // 'finish' comes after the server's ReadyForQuery: the rows are in (inside the transaction).
        stream.on("finish", () => resolve(stream.rowCount));
        stream.end(data);
      });
    },
    async end() {
      usable = false;
      await client.end();
    },
  };
}
