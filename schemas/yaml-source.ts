/**
 * The plant file as YAML with source positions: parsing, YAML syntax problems, and the way
 * back from a key path (`units.PEMEL.tags.power`) to the line and column it stands on.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type ParsedNode,
  parseDocument,
} from "yaml";
import type { PlantbridgeError } from "../lib/errors.ts";
import { configProblem, type ProblemPlace } from "./config-error.ts";

/** A key path as segments: map keys as text, sequence indexes as decimal text. */
export type KeyPath = readonly string[];

export interface PlantSource {
  /** The file name used in messages (as the caller gave it). */
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/** Where in a pair a problem points: the value itself, or the key that names it. */
export type Anchor = "value" | "key";

export function keyPathText(path: KeyPath): string {
  return path.join(".");
}

/** Parses YAML 1.2 (core schema) keeping positions. Syntax errors and warnings become problems. */
export function parsePlantYaml(
  text: string,
  file: string,
): { source: PlantSource; problems: PlantbridgeError[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source: PlantSource = { file, doc, lines };
  const problems = [...doc.errors, ...doc.warnings].map((e) => {
    const offset = e.pos[0];
    const { line, col } = lines.linePos(offset);
    const keyPath = keyPathText(pathAtOffset(doc, offset));
    return configProblem(file, { line, column: col, keyPath }, `YAML: ${yamlMessage(e.message)}`);
  });
  return { source, problems };
}

/** The library's message without any position suffix (the position is in the origin). */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "").trim();
}

function positionOf(
  source: PlantSource,
  node: Node | null | undefined,
): { line: number; column: number } | undefined {
  const start = node?.range?.[0];
  if (start === undefined) return undefined;
  const { line, col } = source.lines.linePos(start);
  return { line, column: col };
}

function resolve(source: PlantSource, node: unknown): unknown {
  return isAlias(node) ? node.resolve(source.doc) : node;
}

/** Text of a map key as it appears in key paths (`0` for the bit key `0:`). */
export function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return key.value === null ? "" : String(key.value);
  if (key === null || key === undefined) return undefined;
  return typeof key === "object" ? undefined : String(key);
}

function isEmptyScalar(node: unknown): boolean {
  if (!isScalar(node)) return false;
  const range = node.range;
  return node.value === null || range == null || range[0] === range[1];
}

/**
 * Line and column of a key path. `value` points at a scalar value (or at the key of a
 * collection value, where a person looks first); `key` points at the key itself. A path that
 * leaves the document stops at the deepest part that exists.
 */
export function locate(source: PlantSource, path: KeyPath, anchor: Anchor = "value"): ProblemPlace {
  const keyPath = keyPathText(path);
  let node: unknown = source.doc.contents;
  let here = positionOf(source, node as Node | null) ?? { line: 1, column: 1 };
  for (const [index, segment] of path.entries()) {
    node = resolve(source, node);
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === segment);
      if (pair === undefined) break;
      const keyPos = positionOf(source, pair.key as Node) ?? here;
      const value = resolve(source, pair.value);
      if (last && anchor === "key") {
        here = keyPos;
      } else if (isScalar(value) && !isEmptyScalar(value)) {
        here = positionOf(source, value) ?? keyPos;
      } else {
        here = keyPos;
      }
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      here = positionOf(source, resolve(source, item) as Node) ?? here;
      node = item;
    } else {
      break;
    }
  }
  return { ...here, keyPath };
}

/** The key path of the deepest map entry or sequence item whose source covers `offset`. */
function pathAtOffset(doc: Document.Parsed, offset: number): string[] {
  const path: string[] = [];
  let node: unknown = doc.contents;
  for (let depth = 0; depth < 64; depth++) {
    if (isMap(node)) {
      const pair = node.items.find((p) => covers(p.key, p.value, offset));
      if (pair === undefined) break;
      const key = keyText(pair.key);
      if (key === undefined) break;
      path.push(key);
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => covers(item, item, offset));
      if (index < 0) break;
      path.push(String(index));
      node = node.items[index];
    } else {
      break;
    }
  }
  return path;
}

function covers(from: unknown, to: unknown, offset: number): boolean {
  const start = rangeOf(from)?.[0];
  const end = rangeOf(to)?.[2] ?? rangeOf(from)?.[2];
  return start !== undefined && end !== undefined && start <= offset && offset <= end;
}

function rangeOf(node: unknown): [number, number, number] | undefined {
  if (node === null || typeof node !== "object" || isPair(node)) return undefined;
  return (node as ParsedNode).range ?? undefined;
}
