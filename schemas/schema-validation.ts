/**
 * Validation against plant.schema.json (JSON Schema 2020-12, ajv with all errors), each
 * error turned into a problem at the line and column of the YAML node it concerns.
 * Messages name keys and expected forms, never the value: a value may be a secret.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import type { PlantbridgeError } from "../lib/errors.ts";
import { configProblem } from "./config-error.ts";
import plantSchema from "./plant.schema.json" with { type: "json" };
import { type Anchor, type KeyPath, locate, type PlantSource } from "./yaml-source.ts";

const addFormats = formats.default;

/** What a pattern-checked value should look like, by the `title` of its schema. */
const FORMS: Record<string, string> = {
  "plant name": "letters, digits, '_', '-' or '.', starting with a letter or digit",
  "unit name": "a letter, then letters, digits or '_' (no dots)",
  name: "a letter or '_', then letters, digits, '_' or '-' (no dots)",
  "SQL identifier": "a letter or '_', then letters, digits or '_', at most 63 characters",
  "tag reference": "UNIT.tag, e.g. PEMEL.current_setpoint",
  duration: "e.g. 500ms, 1s, 1.5s, 2m, 1h, or a number of milliseconds",
  address: "0..65535, decimal (32865) or hexadecimal (0x8061)",
  "bit index": "0..15",
  endpoint: "opc.tcp://host:port/path",
  "node id": "e.g. ns=7;s=::AsGlobalPV:real_temperature, ns=0;i=2258 or nsu=urn:vendor:plc;s=Tag",
  "historian url": "postgres://user:password@host:5432/database, or empty for the embedded database",
};

let validator: ValidateFunction | undefined;

function plantValidator(): ValidateFunction {
  if (validator === undefined) {
    const ajv = new Ajv2020({
      allErrors: true,
      verbose: true,
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
    });
    addFormats(ajv);
    validator = ajv.compile(plantSchema);
  }
  return validator;
}

/** The JSON Schema of a plant file (for editors and docs). */
export function plantJsonSchema(): unknown {
  return plantSchema;
}

/** Checks the parsed plant against the schema; one problem per error, none when valid. */
export function validatePlantShape(source: PlantSource, value: unknown): PlantbridgeError[] {
  const validate = plantValidator();
  if (validate(value)) return [];
  const problems: PlantbridgeError[] = [];
  let pendingNameErrors: ErrorObject[] = [];
  for (const error of validate.errors ?? []) {
    if (error.keyword === "if") continue;
    if (error.schemaPath.includes("/propertyNames/")) {
      pendingNameErrors.push(error);
      continue;
    }
    const path = instancePath(error.instancePath);
    let at: { path: KeyPath; anchor: Anchor; message: string };
    if (error.keyword === "propertyNames") {
      const name = String(error.params.propertyName);
      at = { path: [...path, name], anchor: "key", message: badName(name, pendingNameErrors) };
      pendingNameErrors = [];
    } else {
      at = describeError(error, path);
    }
    problems.push(configProblem(source.file, locate(source, at.path, at.anchor), at.message));
  }
  return problems;
}

function instancePath(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function badName(name: string, inner: readonly ErrorObject[]): string {
  const schema = inner[0]?.parentSchema as { title?: string } | undefined;
  const title = schema?.title ?? "name";
  const form = FORMS[title];
  return `"${name}" is not a valid ${title}${form !== undefined ? ` (${form})` : ""}`;
}

function describeError(
  error: ErrorObject,
  path: string[],
): { path: KeyPath; anchor: Anchor; message: string } {
  const params = error.params as Record<string, unknown>;
  const schema = (error.parentSchema ?? {}) as { title?: string; properties?: Record<string, unknown> };
  switch (error.keyword) {
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      const known = Object.keys(schema.properties ?? {});
      const hint = known.length > 0 ? `; the keys here are: ${known.join(", ")}` : "";
      return { path: [...path, key], anchor: "key", message: `unknown key "${key}"${hint}` };
    }
    case "required": {
      const key = String(params.missingProperty);
      return { path: [...path, key], anchor: "value", message: `missing required key "${key}"` };
    }
    case "type":
      return { path, anchor: "value", message: `must be ${typeWords(params.type)}` };
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map((v) => String(v)).join(", ");
      return { path, anchor: "value", message: `must be one of: ${allowed}` };
    }
    case "const":
      return { path, anchor: "value", message: `must be ${JSON.stringify(params.allowedValue)}` };
    case "pattern": {
      const title = schema.title ?? "value";
      const form = FORMS[title];
      return {
        path,
        anchor: "value",
        message: `is not a valid ${title}${form !== undefined ? ` (${form})` : ""}`,
      };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return {
        path,
        anchor: "value",
        message: `must be ${String(params.comparison)} ${String(params.limit)}`,
      };
    case "minLength":
      return { path, anchor: "value", message: "must not be empty" };
    case "minProperties":
      return { path, anchor: "value", message: `must have at least ${String(params.limit)} entry` };
    case "minItems":
      return { path, anchor: "value", message: `must list at least ${String(params.limit)} item` };
    default:
      return { path, anchor: "value", message: error.message ?? `fails the ${error.keyword} rule` };
  }
}

const TYPE_WORDS: Record<string, string> = {
  integer: "a whole number",
  number: "a number",
  string: "text",
  boolean: "true or false",
  object: "a mapping of keys",
  array: "a list",
  null: "empty",
};

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(",");
  return types.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(" or ");
}
