import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAddress, parseDuration } from "../../../schemas/load-plant.ts";

const SCHEMA = join(import.meta.dirname, "../../../schemas/plant.schema.json");

type Json = { [key: string]: unknown };

/** Every schema object inside the schema, with its JSON pointer. */
function subschemas(node: unknown, pointer = "#"): { pointer: string; schema: Json }[] {
  if (node === null || typeof node !== "object") return [];
  if (Array.isArray(node)) return node.flatMap((item, i) => subschemas(item, `${pointer}/${i}`));
  const out = [{ pointer, schema: node as Json }];
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties" || key === "$defs") {
      for (const [name, child] of Object.entries(value as Json)) {
        out.push(...subschemas(child, `${pointer}/${key}/${name}`));
      }
    } else if (["additionalProperties", "propertyNames", "items", "then", "else"].includes(key)) {
      // (an `if` is a condition that looks at some keys, not the shape of an object)
      out.push(...subschemas(value, `${pointer}/${key}`));
    }
  }
  return out;
}

describe("plant.schema.json", () => {
  it("is JSON Schema 2020-12", async () => {
    const schema = JSON.parse(await readFile(SCHEMA, "utf8")) as Json;
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  });

  it("forbids unknown keys in every object that lists its keys", async () => {
    const schema = JSON.parse(await readFile(SCHEMA, "utf8"));
    const open = subschemas(schema).filter(
      ({ pointer, schema: s }) =>
        s.properties !== undefined &&
        s.additionalProperties !== false &&
        // the protocol switch of a unit: it only reads `protocol`; its two branches are closed
        pointer !== "#/$defs/unit",
    );
    expect(open.map((o) => o.pointer)).toEqual([]);
  });

  it("describes every property (it doubles as the reference)", async () => {
    const schema = JSON.parse(await readFile(SCHEMA, "utf8"));
    const missing: string[] = [];
    for (const { pointer, schema: s } of subschemas(schema)) {
      for (const [name, property] of Object.entries((s.properties ?? {}) as Json)) {
        const p = property as Json;
        if (typeof p.description !== "string" || p.description.length < 3) missing.push(`${pointer}/${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["1s", 1000],
    ["1.5s", 1500],
    ["10s", 10_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["400d", 34_560_000_000],
    [" 3 s ", 3000],
    [250, 250],
  ] as const)("%s → %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["10 seconds", "1w", "-1s", "s", ""])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeNaN();
  });
});

describe("parseAddress", () => {
  it("reads hex and decimal, as numbers or text", () => {
    expect(parseAddress(0x8061)).toBe(32865);
    expect(parseAddress("0x8061")).toBe(32865);
    expect(parseAddress("0X806a")).toBe(0x806a);
    expect(parseAddress("32865")).toBe(32865);
    expect(parseAddress("40001h")).toBeNaN();
  });
});
