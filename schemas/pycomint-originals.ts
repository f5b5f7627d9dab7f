/**
 * The original PyComInt tool's YAML files as they are, quirks included: `...` for removed site
 * values, stray quotes (`python_opcua_user'`), tabs, engineering units only in comments.
 * Reading and typed access with the file, line and key of any value that cannot be used.
 */
import { readFile } from "node:fs/promises";
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";

export interface OriginalFile {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  values: Record<string, unknown>;
}

/** Reads and parses one original file; a tab where YAML wants spaces is read as two spaces. */
export async function readOriginal(file: string): Promise<OriginalFile> {
  let source: string;
  try {
    source = await readFile(file, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "the file does not exist" : String(e);
    throw new PlantbridgeError(
      ErrorCode.CONFIG,
      `cannot read the PyComInt file: ${reason}`,
      { file },
      { cause: e },
    );
  }
  let parsed = parseOriginal(source);
  // A tab where YAML wants spaces: the originals mix them; read tabs as spaces before giving up.
  if (parsed.doc.errors.length > 0 && source.includes("\t"))
    parsed = parseOriginal(source.replaceAll("\t", "  "));
  const error = parsed.doc.errors[0];
  if (error !== undefined) {
    const { line, col } = parsed.lines.linePos(error.pos[0]);
    throw new PlantbridgeError(ErrorCode.CONFIG, `YAML: ${error.message.split("\n")[0]}`, {
      file,
      line,
      column: col,
    });
  }
  const values = parsed.doc.toJS() as unknown;
  if (values === null || typeof values !== "object" || Array.isArray(values)) {
    throw new PlantbridgeError(ErrorCode.CONFIG, "expected a mapping of KEY : value", {
      file,
      line: 1,
      column: 1,
    });
  }
  return { file, doc: parsed.doc, lines: parsed.lines, values: values as Record<string, unknown> };
}

function parseOriginal(source: string): { doc: Document.Parsed; lines: LineCounter } {
  const lines = new LineCounter();
  return { doc: parseDocument(source, { lineCounter: lines, prettyErrors: false }), lines };
}

export function originalError(
  file: OriginalFile,
  path: readonly string[],
  message: string,
): PlantbridgeError {
  const node = file.doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
  const at = node?.range?.[0];
  const pos = at !== undefined ? file.lines.linePos(at) : { line: 1, col: 1 };
  return new PlantbridgeError(ErrorCode.CONFIG, message, {
    file: file.file,
    line: pos.line,
    column: pos.col,
    keyPath: path.join("."),
  });
}

export function valueAt(file: OriginalFile, path: readonly string[]): unknown {
  let value: unknown = file.values;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Strips whitespace and stray quotes the originals leave around values (`python_opcua_user'`). */
export function unquote(value: string): string {
  return value
    .trim()
    .replace(/^['"]+|['"]+$/g, "")
    .trim();
}

export function text(file: OriginalFile, path: readonly string[]): string | undefined {
  const value = valueAt(file, path);
  if (value === undefined || value === null) return undefined;
  return unquote(String(value));
}

export function number(file: OriginalFile, path: readonly string[], fallback?: number): number {
  const value = valueAt(file, path);
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  const n = typeof value === "number" ? value : Number(unquote(String(value ?? "")));
  if (value === undefined || value === null || !Number.isFinite(n)) {
    throw originalError(file, path, `${path.join(".")} must be a number`);
  }
  return n;
}

export function integer(file: OriginalFile, path: readonly string[], fallback?: number): number {
  const value = valueAt(file, path);
  const n =
    typeof value === "string" && /^\s*['"]?0[xX][0-9a-fA-F]+['"]?\s*$/.test(value)
      ? Number.parseInt(unquote(value), 16)
      : number(file, path, fallback);
  if (!Number.isInteger(n)) throw originalError(file, path, `${path.join(".")} must be a whole number`);
  return n;
}

export function seconds(file: OriginalFile, path: readonly string[], fallback: number): number {
  const n = number(file, path, fallback);
  if (n <= 0) throw originalError(file, path, `${path.join(".")} must be a positive number of seconds`);
  return n;
}

export function list(file: OriginalFile, path: readonly string[]): unknown[] | undefined {
  const value = valueAt(file, path);
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value : [value];
}

/** OPCUA_NODE_IDs as a list; a single string is one node id (the original iterated its characters). */
export function nodeIdList(file: OriginalFile): string[] {
  const value = valueAt(file, ["OPCUA_NODE_IDs"]);
  if (typeof value === "string") return [unquote(value)];
  if (!Array.isArray(value) || value.length === 0) {
    throw originalError(file, ["OPCUA_NODE_IDs"], "OPCUA_NODE_IDs must list the node ids to store");
  }
  return value.map((v) => unquote(String(v)));
}

/** The trailing comment of a key, e.g. ` Power actual value [W]`. */
export function comment(file: OriginalFile, path: readonly string[]): string | undefined {
  const parent = file.doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === path[path.length - 1]);
  const value = pair?.value;
  return isScalar(value) || isSeq(value) ? (value.comment ?? undefined) : undefined;
}
