// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders of plant files are plain text here, not template strings
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import { importPycomint } from "../../../schemas/import-pycomint.ts";
import { loadPlantFile, loadPlantText, PlantConfigError } from "../../../schemas/load-plant.ts";
import type { ModbusUnitConfig, OpcuaUnitConfig, PlantConfig } from "../../../schemas/plant-types.ts";
import { tagId } from "../../../schemas/plant-types.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/pycomint");
const ORIGINAL_FILES = ["config_gen.yaml", "config_modbus.yaml", "config_opcua.yaml", "config_sql.yaml"];
const env = { PEMEL_HOST: "10.0.6.65", METH_ENDPOINT: "opc.tcp://10.0.6.70:4840", METH_PASSWORD: "pw" };

let work: string;

beforeAll(async () => {
  work = join(
    process.cwd(),
    "var/test",
    `config-import-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  await mkdir(work, { recursive: true });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A copy of the fixtures (and the curve) in a fresh folder, with some files rewritten. */
async function originals(name: string, edit: Record<string, (text: string) => string> = {}): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const file of [...ORIGINAL_FILES, "PEMEL_Current_H2Flowrate.txt"]) {
    const text = await readFile(join(FIXTURES, file), "utf8");
    const change = edit[file];
    if (change === undefined) await copyFile(join(FIXTURES, file), join(dir, file));
    else await writeFile(join(dir, file), change(text));
  }
  return dir;
}

describe("import-pycomint", () => {
  let text: string;
  let plant: PlantConfig;

  beforeAll(async () => {
    const output = join(work, "out", "plant.yaml");
    text = await importPycomint(FIXTURES, { output });
    await mkdir(join(work, "out"), { recursive: true });
    await writeFile(output, text);
    plant = await loadPlantFile(output, { env });
  });

  it("writes a plant file that loads, with a header comment", () => {
    expect(text.startsWith("# plantbridge plant file, imported from the PyComInt configuration")).toBe(true);
    expect(plant.units.map((u) => u.name)).toEqual(["PEMEL", "METH"]);
  });

  it("maps the Modbus settings, status bits, process values and the set point register", () => {
    const pemel = plant.units[0] as ModbusUnitConfig;
    expect(pemel).toMatchObject({ host: "10.0.6.65", port: 502, unitId: 0 });
    const bits = pemel.tags.filter((t) => t.type === "bit");
    expect(bits).toHaveLength(16);
    expect(bits.every((b) => b.address === 0x8061)).toBe(true);
    expect(bits[10]).toMatchObject({ name: "h2_cooling_temperature_reached", bit: 10 });
    expect(bits[4]?.name).toBe("safety");
    const values = pemel.tags.filter((t) => t.type === "uint16" && t.writable === undefined);
    expect(values.map((v) => v.address)).toEqual(Array.from({ length: 14 }, (_, i) => 0x8065 + i));
    expect(values[0]).toMatchObject({
      name: "el_power_act",
      engineeringUnit: "W",
      description: "Power actual value",
    });
    expect(values[2]?.engineeringUnit).toBe("bar");
    expect(values[6]?.engineeringUnit).toBe("Nl/min");
    const setpoint = pemel.tags.find((t) => t.writable !== undefined);
    expect(setpoint).toMatchObject({
      name: "current_setpoint",
      address: 0x8006,
      writable: { min: 0, max: 52 },
    });
  });

  it("maps the OPC UA settings and node ids; the placeholders become ${ENV}", () => {
    const meth = plant.units[1] as OpcuaUnitConfig;
    expect(meth).toMatchObject({
      endpoint: "opc.tcp://10.0.6.70:4840",
      username: "OPCUA_user_1",
      password: "pw",
    });
    expect(meth.tags.map((t) => t.nodeId)).toEqual([
      "ns=7;s=::AsGlobalPV:real_temperature",
      "ns=7;s=::AsGlobalPV:real_pressure",
      "ns=7;s=::AsGlobalPV:real_methane_production",
      "ns=7;s=::AsGlobalPV:real_h2_flowrate",
    ]);
    expect(text).toContain("host: ${PEMEL_HOST}");
    expect(text).toContain("endpoint: ${METH_ENDPOINT}");
    expect(text).toContain("password: ${METH_PASSWORD}");
    expect(text).not.toMatch(/:\s*\.\.\.\s*$/m);
  });

  it("maps the control rule with the curve referenced relative to the output", () => {
    const loop = plant.control[0]!;
    expect(tagId(loop.input)).toBe("METH.h2_demand");
    expect(tagId(loop.output)).toBe("PEMEL.current_setpoint");
    expect(loop.permissive && tagId(loop.permissive)).toBe("PEMEL.h2_cooling_temperature_reached");
    expect(loop.periodMs).toBe(1000);
    expect(loop.transform.curve?.file).toBe(join(FIXTURES, "PEMEL_Current_H2Flowrate.txt"));
    expect(loop.transform).toMatchObject({
      curve: { inputColumn: 1, outputColumn: 0, atOrAboveTop: 52, belowBottom: 0 },
      minimum: { value: 8, replacement: 0 },
      round: "half-even",
      clamp: { min: 0, max: 52 },
    });
    expect(text).toMatch(
      /file: "\.\.\/\.\.\/\.\.\/\.\.\/test\/fixtures\/pycomint\/PEMEL_Current_H2Flowrate\.txt"/,
    );
  });

  it("keeps the original table in a wide layout: time column first, then DB_COLUMNS in order", () => {
    expect(plant.storage.periodMs).toBe(10_000);
    const h = plant.storage.historian;
    expect(h).toMatchObject({ layout: "wide", schema: "public", table: "pycomint", timeColumn: "timestamp" });
    expect(h.url).toBeUndefined();
    const columns = h.columns ?? [];
    expect(columns).toHaveLength(33);
    expect(columns.slice(0, 4).map((c) => c.column)).toEqual([
      "real_temperature",
      "real_pressure",
      "real_methane_production",
      "error",
    ]);
    // PostgreSQL folded the original's unquoted el_temp_In_act to lower case.
    expect(columns[23]).toEqual({ column: "el_temp_in_act", tag: { unit: "PEMEL", tag: "el_temp_in_act" } });
    expect(columns.map((c) => c.column)).toEqual(plant.storage.tags.map((t) => t.tag));
    expect(text).toContain("url: ${PB_HISTORIAN_URL:-}");
  });

  it("reads DB_USER without the stray quote of the original", () => {
    expect(text).toContain("postgres://python_opcua_user:PASSWORD@HOST:5432/DATABASE");
    expect(text).not.toContain("python_opcua_user'");
  });

  it("reads the tabs before a comment in the original (MIN_CURRENT : 8<tab><tab><tab> # ...)", async () => {
    const raw = await readFile(join(FIXTURES, "config_modbus.yaml"), "utf8");
    expect(raw).toMatch(/MIN_CURRENT : 8\t/);
    expect(plant.control[0]?.transform.minimum).toEqual({ value: 8, replacement: 0 });
  });

  it("takes a single node-id string as one node id (the original iterated its characters)", async () => {
    const dir = await originals("single-node-id", {
      "config_opcua.yaml": (t) =>
        t.replace(/OPCUA_NODE_IDs : \[[^\]]*\]/s, 'OPCUA_NODE_IDs : "ns=7;s=::AsGlobalPV:real_temperature"'),
    });
    const output = join(dir, "plant.yaml");
    const imported = loadPlantText(await importPycomint(dir, { output }), output, { env });
    const meth = imported.units[1] as OpcuaUnitConfig;
    expect(meth.tags.map((t) => t.name)).toEqual(["real_temperature", "h2_demand"]);
    // DB_COLUMNS no longer lines up with the signals: columns are named after the tags.
    expect(imported.storage.historian.columns).toHaveLength(31);
  });

  it("keeps site values that are present, and reads tabs used for indentation", async () => {
    const dir = await originals("site-values", {
      "config_modbus.yaml": (t) =>
        t.replace("IP_ADDRESS : ...", 'IP_ADDRESS : "10.0.6.65"').replace(/^ {2}BIT_/gm, "\tBIT_"),
      "config_opcua.yaml": (t) => t.replace("URL : ...", "URL : opc.tcp://10.0.6.70:4840"),
      "config_sql.yaml": (t) => t.replace("DB_TABLE : ...", "DB_TABLE : measurements.ptg_data"),
    });
    const output = join(dir, "plant.yaml");
    const out = await importPycomint(dir, { output });
    expect(out).not.toContain("${PEMEL_HOST}");
    const imported = loadPlantText(out, output, { env: { METH_PASSWORD: "pw" } });
    expect((imported.units[0] as ModbusUnitConfig).host).toBe("10.0.6.65");
    expect((imported.units[0] as ModbusUnitConfig).tags[1]?.name).toBe("modeoff");
    expect((imported.units[1] as OpcuaUnitConfig).endpoint).toBe("opc.tcp://10.0.6.70:4840");
    expect(imported.storage.historian).toMatchObject({ schema: "measurements", table: "ptg_data" });
  });

  it("notes a curve file it cannot find, and the plant then fails on it", async () => {
    const dir = join(work, "no-curve");
    await mkdir(dir, { recursive: true });
    for (const file of ORIGINAL_FILES) await copyFile(join(FIXTURES, file), join(dir, file));
    const output = join(dir, "plant.yaml");
    const out = await importPycomint(dir, { output });
    expect(out).toContain("NOTE: PEMEL_Current_H2Flowrate.txt was not found");
    expect(() => loadPlantText(out, output, { env })).toThrow(PlantConfigError);
  });

  it("names the missing file when one of the four is absent", async () => {
    const dir = join(work, "incomplete");
    await mkdir(dir, { recursive: true });
    await copyFile(join(FIXTURES, "config_gen.yaml"), join(dir, "config_gen.yaml"));
    await expect(importPycomint(dir)).rejects.toSatisfy(
      (e) =>
        e instanceof PlantbridgeError &&
        e.code === ErrorCode.CONFIG &&
        e.origin.file === join(dir, "config_modbus.yaml"),
    );
  });

  it("names file and line of a value it cannot use", async () => {
    const dir = await originals("bad-number", {
      "config_modbus.yaml": (t) => t.replace("MAX_CURRENT : 52", "MAX_CURRENT : lots"),
    });
    await expect(importPycomint(dir)).rejects.toSatisfy(
      (e) =>
        e instanceof PlantbridgeError &&
        e.origin.file === join(dir, "config_modbus.yaml") &&
        e.origin.line === 56 &&
        e.origin.keyPath === "MAX_CURRENT",
    );
  });
});
