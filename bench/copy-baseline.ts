/**
 * The COPY baseline of the historian bench. `pg` alone cannot stream `COPY … FROM STDIN` and no
 * COPY package is installed, so this uses a machine tool: `psql` (PostgreSQL's client, not an npm
 * package), fed one script on stdin that holds one `COPY … FROM STDIN` per batch with its rows
 * inline (text format), each batch its own transaction as psql autocommits. When psql is missing
 * the baseline is skipped with a note.
 */
import { spawn, spawnSync } from "node:child_process";

/** One narrow-layout row as COPY text takes it. */
export interface CopyRow {
  time: number;
  tagId: number;
  value: number | null;
  quality: 0 | 1;
  reason: string | null;
}

/** psql's version line, or undefined when psql cannot be run here. */
export function psqlVersion(): string | undefined {
  const result = spawnSync("psql", ["--version"], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) return undefined;
  return result.stdout.trim();
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** COPY text format: tab-separated, `\N` for null, backslash and control characters escaped. */
function copyText(value: string | null): string {
  if (value === null) return "\\N";
  return value
    .replaceAll("\\", "\\\\")
    .replaceAll("\t", "\\t")
    .replaceAll("\n", "\\n")
    .replaceAll("\r", "\\r");
}

/** The psql script: one COPY per batch into `schema.table (time, tag_id, value, quality, reason)`. */
export function copyScript(schema: string, table: string, batches: readonly (readonly CopyRow[])[]): string {
  const target = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  const parts: string[] = [];
  for (const batch of batches) {
    parts.push(`COPY ${target} (time, tag_id, value, quality, reason) FROM STDIN;\n`);
    for (const row of batch) {
      parts.push(
        `${new Date(row.time).toISOString()}\t${row.tagId}\t${row.value === null ? "\\N" : String(row.value)}\t${row.quality}\t${copyText(row.reason)}\n`,
      );
    }
    parts.push("\\.\n");
  }
  return parts.join("");
}

/** Runs the script through psql against `url`; resolves with the wall time in ms (process start included). */
export function runPsqlScript(url: string, script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // The password (embedded PostgreSQL) goes through the environment, never the command line.
    const target = new URL(url);
    const password = decodeURIComponent(target.password);
    target.password = "";
    const env = password === "" ? process.env : { ...process.env, PGPASSWORD: password };
    const started = performance.now();
    const child = spawn("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.toString(), "-f", "-"], {
      stdio: ["pipe", "ignore", "pipe"],
      env,
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const elapsed = performance.now() - started;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`psql exited with ${code}: ${stderr.trim().slice(0, 500)}`));
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(script);
  });
}
