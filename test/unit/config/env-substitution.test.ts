// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders of plant files are plain text here, not template strings
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../../lib/errors.ts";
import { loadPlantText, PlantConfigError } from "../../../schemas/load-plant.ts";
import type { ModbusUnitConfig, OpcuaUnitConfig, PlantConfig } from "../../../schemas/plant-types.ts";

/** A small plant whose values come from the environment; `extra` lines go under METH. */
function plantText(pemel: Record<string, string>, methExtra: string[] = [], storage: string[] = []): string {
  return [
    "plant: env-test",
    "units:",
    "  PEMEL:",
    "    protocol: modbus-tcp",
    ...Object.entries(pemel).map(([k, v]) => `    ${k}: ${v}`),
    "    tags:",
    "      power: { area: holding, address: 0x8065 }",
    "  METH:",
    "    protocol: opcua",
    "    endpoint: opc.tcp://127.0.0.1:4840",
    ...methExtra.map((l) => `    ${l}`),
    "    tags:",
    '      h2_demand: { nodeId: "ns=7;s=::AsGlobalPV:real_h2_flowrate" }',
    ...storage,
  ].join("\n");
}

function load(text: string, env: Record<string, string | undefined>): PlantConfig {
  return loadPlantText(text, "env-test.yaml", { env });
}

function failure(text: string, env: Record<string, string | undefined>): PlantConfigError {
  try {
    load(text, env);
  } catch (e) {
    if (e instanceof PlantConfigError) return e;
    throw e;
  }
  throw new Error("the plant loaded");
}

const pemel = (p: PlantConfig) => p.units[0] as ModbusUnitConfig;
const meth = (p: PlantConfig) => p.units[1] as OpcuaUnitConfig;

describe("${ENV} substitution", () => {
  it("replaces a whole value and gives it the YAML type of the text", () => {
    const plant = load(plantText({ host: "${HOST}", port: "${PORT}", unitId: "${UNIT_ID}" }), {
      HOST: "10.0.6.65",
      PORT: "1502",
      UNIT_ID: "0x00",
    });
    expect(pemel(plant).host).toBe("10.0.6.65");
    expect(pemel(plant).port).toBe(1502);
    expect(pemel(plant).unitId).toBe(0);
  });

  it("keeps a quoted placeholder as text", () => {
    const error = failure(plantText({ host: "h", port: '"${PORT}"' }), { PORT: "1502" });
    expect(error.problems[0]?.origin.keyPath).toBe("units.PEMEL.port");
    expect(error.problems[0]?.message).toBe("must be a whole number");
  });

  it("replaces placeholders inside longer text", () => {
    const plant = load(plantText({ host: "plc-${SITE}.${DOMAIN}" }), { SITE: "7", DOMAIN: "example.org" });
    expect(pemel(plant).host).toBe("plc-7.example.org");
  });

  it("uses the default when the variable is unset or empty", () => {
    const text = plantText({ host: "${HOST:-127.0.0.1}", port: "${PORT:-502}" });
    expect(pemel(load(text, {})).host).toBe("127.0.0.1");
    expect(pemel(load(text, {})).port).toBe(502);
    expect(pemel(load(text, { HOST: "" })).host).toBe("127.0.0.1");
    expect(pemel(load(text, { HOST: "plc" })).host).toBe("plc");
  });

  it("takes an empty default as no historian url: the embedded database", () => {
    const storage = ["storage:", "  historian:", "    url: ${PB_HISTORIAN_URL:-}"];
    const plant = load(plantText({ host: "h" }, [], storage), {});
    expect(plant.storage.historian.url).toBeUndefined();
    const external = load(plantText({ host: "h" }, [], storage), { PB_HISTORIAN_URL: "postgres://u:p@db/x" });
    expect(external.storage.historian.url).toBe("postgres://u:p@db/x");
  });

  it("reads $${ as a literal ${", () => {
    const plant = load(plantText({ host: "h" }, ["username: op", "password: pa$${ss}"]), {});
    expect(meth(plant).password).toBe("pa${ss}");
  });

  it("names each missing variable with file, line, column and key path, and stops before validation", () => {
    const error = failure(plantText({ host: "${PEMEL_HOST}", port: "${PEMEL_PORT}" }), {});
    expect(error.code).toBe(ErrorCode.CONFIG);
    expect(error.problems.map((p) => p.code)).toEqual([ErrorCode.CONFIG_ENV, ErrorCode.CONFIG_ENV]);
    expect(error.problems.map((p) => p.origin)).toEqual([
      { file: "env-test.yaml", line: 5, column: 11, keyPath: "units.PEMEL.host" },
      { file: "env-test.yaml", line: 6, column: 11, keyPath: "units.PEMEL.port" },
    ]);
    expect(error.problems[0]?.message).toContain("PEMEL_HOST");
    expect(error.problems[1]?.message).toContain("PEMEL_PORT");
    expect(error.message).toContain("env-test.yaml:5:11 units.PEMEL.host: environment variable PEMEL_HOST");
  });

  it("never puts a substituted password or url into a message", () => {
    const secretPassword = "pw-Tr0ub4dor";
    const secretUrl = "mysql://admin:hunter2@db.example/plant";
    // The password is fine; the url is not a PostgreSQL url; the port is bad too.
    const text = plantText(
      { host: "h", port: "${PORT}" },
      ["username: op", "password: ${METH_PASSWORD}"],
      ["storage:", "  historian:", "    url: ${PB_HISTORIAN_URL}"],
    );
    const error = failure(text, { METH_PASSWORD: secretPassword, PB_HISTORIAN_URL: secretUrl, PORT: "x" });
    expect(error.problems.map((p) => p.origin.keyPath)).toEqual([
      "units.PEMEL.port",
      "storage.historian.url",
    ]);
    const everything = [error.message, error.describe(), ...error.problems.map((p) => p.describe())].join(
      "\n",
    );
    expect(everything).not.toContain("hunter2");
    expect(everything).not.toContain("db.example");
    expect(everything).not.toContain(secretPassword);
  });

  it("keeps a password that looks like a number or a boolean as text", () => {
    const text = plantText({ host: "h" }, ["username: ${USER}", "password: ${PASSWORD}"]);
    const plant = load(text, { USER: "true", PASSWORD: "007" });
    expect(meth(plant).username).toBe("true");
    expect(meth(plant).password).toBe("007");
  });

  it("reports an unterminated placeholder", () => {
    const error = failure(plantText({ host: "${PEMEL_HOST" }), { PEMEL_HOST: "h" });
    expect(error.problems[0]?.code).toBe(ErrorCode.CONFIG_ENV);
    expect(error.problems[0]?.origin.keyPath).toBe("units.PEMEL.host");
    expect(error.problems[0]?.message).toContain("unterminated");
  });

  it("defaults to process.env", () => {
    const name = `PB_TEST_HOST_${process.pid}`;
    process.env[name] = "from-process-env";
    try {
      const plant = loadPlantText(plantText({ host: `\${${name}}` }), "env-test.yaml");
      expect(pemel(plant).host).toBe("from-process-env");
    } finally {
      delete process.env[name];
    }
  });
});
