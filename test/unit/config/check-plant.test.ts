// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders of plant files are plain text here, not template strings
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../../lib/errors.ts";
import { checkPlantText } from "../../../schemas/check-plant.ts";
import { loadPlantText, PlantConfigError } from "../../../schemas/load-plant.ts";

/** A plant whose PEMEL settings and loop output are given as lines; the rest is sound. */
function plant(pemel: string[], output = "PEMEL.sp"): string {
  return [
    "plant: check-test",
    "units:",
    "  PEMEL:",
    "    protocol: modbus-tcp",
    ...pemel.map((l) => `    ${l}`),
    "    tags:",
    "      power: { area: holding, address: 0x8065, type: uint16 }",
    "      sp: { area: holding, address: 0x8006, type: uint16, writable: { min: 0, max: 52 } }",
    "  METH:",
    "    protocol: opcua",
    "    endpoint: ${METH_ENDPOINT}",
    "    tags:",
    '      h2: { nodeId: "ns=7;s=x" }',
    "control:",
    "  loop:",
    "    input: METH.h2",
    `    output: ${output}`,
    "    failSafe: { after: 5s, value: 0 }",
  ].join("\n");
}

const keyPaths = (problems: { origin: { keyPath?: string } }[]) => problems.map((p) => p.origin.keyPath);

describe("check: every problem in one pass, also with ${VAR} unset", () => {
  it("names the unset variables and still finds a misspelt key", () => {
    const text = plant(["host: ${PEMEL_HOST}", "port: ${PEMEL_PORT}", "unitID: 0"]);
    const check = checkPlantText(text, "p.yaml", { env: {} });
    expect(check.unset).toEqual(["METH_ENDPOINT", "PEMEL_HOST", "PEMEL_PORT"]);
    expect(keyPaths(check.problems)).toEqual([
      "units.PEMEL.host",
      "units.PEMEL.port",
      "units.PEMEL.unitID",
      "units.METH.endpoint",
    ]);
    expect(check.problems[2]?.message).toMatch(/unknown key "unitID"/);
    expect(check.problems.filter((p) => p.code === ErrorCode.CONFIG_ENV)).toHaveLength(3);
    // what run does with the same file: it stops at the unset variables, the typo unseen
    expect(() => loadPlantText(text, "p.yaml", { env: {} })).toThrow(PlantConfigError);
  });

  it("reports no type error at a key whose value is an unset variable (a number's stand-in fits)", () => {
    const check = checkPlantText(plant(["host: h", "port: ${PORT}", "timeout: ${TIMEOUT}"]), "p.yaml", {
      env: { METH_ENDPOINT: "opc.tcp://h:4840" },
    });
    expect(keyPaths(check.problems)).toEqual(["units.PEMEL.port", "units.PEMEL.timeout"]);
    expect(check.problems.every((p) => /is not set/.test(p.message))).toBe(true);
    expect(check.plant?.units[0]).toMatchObject({ name: "PEMEL", host: "h" });
  });

  it("finds rule problems (a loop writing a read-only tag) beside unset variables", () => {
    const check = checkPlantText(plant(["host: ${PEMEL_HOST}"], "PEMEL.power"), "p.yaml", { env: {} });
    expect(keyPaths(check.problems)).toEqual([
      "units.PEMEL.host",
      "units.METH.endpoint",
      "control.loop.output",
    ]);
    expect(check.problems[2]?.message).toMatch(/not writable/);
  });

  it("leaves out the problems a stand-in would cause (an unset tag reference) without failing", () => {
    const check = checkPlantText(plant(["host: h"], "${OUTPUT}"), "p.yaml", {
      env: { METH_ENDPOINT: "opc.tcp://h:4840" },
    });
    expect(check.unset).toEqual(["OUTPUT"]);
    expect(keyPaths(check.problems)).toEqual(["control.loop.output"]);
  });

  it("gives the same plant as the loader when every variable is set", () => {
    const env = { PEMEL_HOST: "10.0.6.65", METH_ENDPOINT: "opc.tcp://h:4840" };
    const text = plant(["host: ${PEMEL_HOST}"]);
    const check = checkPlantText(text, "p.yaml", { env });
    expect(check.problems).toEqual([]);
    expect(check.unset).toEqual([]);
    expect(check.plant).toEqual(loadPlantText(text, "p.yaml", { env }));
  });
});
