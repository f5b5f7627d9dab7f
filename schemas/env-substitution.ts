// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders of plant files are plain text here, not template strings
/**
 * `${VAR}` and `${VAR:-default}` in the plant file's values, replaced from the environment
 * before validation, in place in the YAML document (so positions stay those of the file).
 *
 * - `${VAR}`: the variable's value; unset is an error naming the variable (PB_ERR_CONFIG_ENV).
 * - `${VAR:-default}`: the default when VAR is unset or empty (as in a POSIX shell).
 * - `$${` is a literal `${`.
 * - A plain (unquoted) scalar that is exactly one placeholder takes the YAML type of the
 *   substituted text (`port: ${PORT}` with PORT=502 is the number 502; empty text is null),
 *   except for keys that always hold text (password, username, host, url, …).
 * - Values substituted into `password`, `token` or `url` never appear in any message.
 */
import { isAlias, isMap, isScalar, isSeq, parse, type Scalar } from "yaml";
import { ErrorCode, type PlantbridgeError } from "../lib/errors.ts";
import { configProblem } from "./config-error.ts";
import { keyText, locate, type PlantSource } from "./yaml-source.ts";

export type Environment = Readonly<Record<string, string | undefined>>;

/** Keys whose substituted value stays text whatever it looks like. */
const TEXT_KEYS = new Set([
  "password",
  "token",
  "username",
  "host",
  "endpoint",
  "url",
  "nodeId",
  "file",
  "path",
  "description",
  "plant",
  "table",
  "varDir",
]);

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Piece = { text: string } | { variable: string; fallback?: string };

/** A value whose placeholders could not be replaced: it keeps its text, `${VAR}` and all. */
export interface UnresolvedValue {
  path: readonly string[];
  /** Variables of this value that are unset and have no default (none for a malformed placeholder). */
  unset: readonly string[];
}

export interface SubstitutionReport {
  problems: PlantbridgeError[];
  unresolved: UnresolvedValue[];
}

/** Replaces placeholders in every value of the document; returns the problems found. */
export function substituteEnvironment(source: PlantSource, env: Environment): PlantbridgeError[] {
  return substituteEnvironmentReport(source, env).problems;
}

/**
 * Like `substituteEnvironment`, and also says which values stayed unresolved (unset variables,
 * malformed placeholders), so that `check` can validate the rest of the file around them.
 */
export function substituteEnvironmentReport(source: PlantSource, env: Environment): SubstitutionReport {
  const problems: PlantbridgeError[] = [];
  const unresolved: UnresolvedValue[] = [];
  const visit = (node: unknown, path: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (key !== undefined) visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        visit(item, [...path, String(index)]);
      });
    } else if (
      isScalar(node) &&
      !isAlias(node) &&
      typeof node.value === "string" &&
      node.value.includes("${")
    ) {
      const unset = substituteScalar(source, node, node.value, path, env, problems);
      if (unset !== undefined) unresolved.push({ path, unset });
    }
  };
  visit(source.doc.contents, []);
  return { problems, unresolved };
}

function substituteScalar(
  source: PlantSource,
  node: Scalar,
  value: string,
  path: string[],
  env: Environment,
  problems: PlantbridgeError[],
): string[] | undefined {
  const fail = (message: string): void => {
    problems.push(configProblem(source.file, locate(source, path), message, ErrorCode.CONFIG_ENV));
  };
  const pieces = splitPlaceholders(value);
  if (typeof pieces === "string") {
    fail(pieces);
    return [];
  }
  let text = "";
  const missing: string[] = [];
  for (const piece of pieces) {
    if ("text" in piece) {
      text += piece.text;
      continue;
    }
    const set = env[piece.variable];
    if (set !== undefined && (set !== "" || piece.fallback === undefined)) {
      text += set;
    } else if (piece.fallback !== undefined) {
      text += piece.fallback;
    } else {
      missing.push(piece.variable);
      fail(
        `environment variable ${piece.variable} is not set (set it, or write \${${piece.variable}:-default} to give a default)`,
      );
    }
  }
  if (missing.length > 0) return missing;
  const whole = pieces.length === 1 && !("text" in pieces[0]!);
  const key = path[path.length - 1] ?? "";
  node.value = whole && node.type === "PLAIN" && !TEXT_KEYS.has(key) ? yamlTyped(text) : text;
  return undefined;
}

/** Number, boolean or null when the text reads as one in YAML; the text itself otherwise. */
function yamlTyped(text: string): unknown {
  if (text.trim() === "") return null;
  try {
    const value: unknown = parse(text);
    if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  } catch {
    // not a YAML scalar: keep the text
  }
  return text;
}

/** Text and placeholders of a value, or a message when a placeholder is malformed. */
function splitPlaceholders(value: string): Piece[] | string {
  const pieces: Piece[] = [];
  let text = "";
  let i = 0;
  while (i < value.length) {
    if (value.startsWith("$${", i)) {
      text += "${";
      i += 3;
      continue;
    }
    if (!value.startsWith("${", i)) {
      text += value[i];
      i += 1;
      continue;
    }
    const end = value.indexOf("}", i + 2);
    if (end < 0) return "unterminated ${ in this value: close it with } (write $${ for a literal ${)";
    const inner = value.slice(i + 2, end);
    const sep = inner.indexOf(":-");
    const variable = sep < 0 ? inner : inner.slice(0, sep);
    if (!NAME.test(variable)) {
      return `"\${${inner}}" is not a valid placeholder: write \${NAME} or \${NAME:-default} (NAME: letters, digits, _)`;
    }
    if (text !== "") pieces.push({ text });
    text = "";
    pieces.push(sep < 0 ? { variable } : { variable, fallback: inner.slice(sep + 2) });
    i = end + 1;
  }
  if (text !== "" || pieces.length === 0) pieces.push({ text });
  return pieces;
}
