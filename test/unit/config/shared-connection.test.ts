// `connection: shared | separate` and `demotion` of Modbus units: defaults, normalised values, checks.
import { describe, expect, it } from "vitest";
import { ErrorCode, type PlantbridgeError } from "../../../lib/errors.ts";
import { loadPlantText, PlantConfigError } from "../../../schemas/load-plant.ts";
import type { ModbusUnitConfig } from "../../../schemas/plant-types.ts";

/** A plant of two Modbus units on one gateway; `a` and `b` are the extra keys of each unit. */
function plant(a: string, b: string): string {
  return `plant: gateway
units:
  A:
    protocol: modbus-tcp
    host: 10.0.0.9
    unitId: 1
${a}
    tags: { t: { area: holding, address: 0 } }
  B:
    protocol: modbus-tcp
    host: 10.0.0.9
    unitId: 2
${b}
    tags: { t: { area: holding, address: 0 } }
`;
}

function load(text: string): ModbusUnitConfig[] {
  return loadPlantText(text, "gateway.yaml", { env: {}, varDir: "/tmp/pb" }).units as ModbusUnitConfig[];
}

function problems(text: string): PlantbridgeError[] {
  try {
    load(text);
  } catch (e) {
    if (e instanceof PlantConfigError) return [...e.problems];
    throw e;
  }
  throw new Error("the plant loaded");
}

describe("connection and demotion of Modbus units", () => {
  it("defaults to a connection of its own, and fills in the demotion defaults", () => {
    const [a] = load(plant("", ""));
    expect(a?.connection).toBe("separate");
    expect(a?.demotion).toEqual({ after: 3, periodMs: 10_000, maxPeriodMs: 300_000 });
  });

  it("reads connection: shared and the demotion's durations in ms", () => {
    const [a, b] = load(
      plant(
        "    connection: shared\n    timeout: 300ms\n    demotion: { after: 2, period: 2s, maxPeriod: 1m }",
        "    connection: shared\n    demotion: { period: 10m }",
      ),
    );
    expect(a).toMatchObject({
      connection: "shared",
      timeoutMs: 300,
      demotion: { after: 2, periodMs: 2000, maxPeriodMs: 60_000 },
    });
    // a first period beyond the default cap is its own cap
    expect(b?.demotion).toEqual({ after: 3, periodMs: 600_000, maxPeriodMs: 600_000 });
  });

  it.each([
    {
      name: "demotion on a unit with a connection of its own",
      a: "    demotion: { after: 2 }",
      keyPath: "units.A.demotion",
      says: "shared connection only",
    },
    {
      name: "a longest period below the first",
      a: "    connection: shared\n    demotion: { period: 30s, maxPeriod: 10s }",
      keyPath: "units.A.demotion.maxPeriod",
      says: "below period",
    },
    {
      name: "an unknown connection mode",
      a: "    connection: pooled",
      keyPath: "units.A.connection",
      says: "separate, shared",
    },
    {
      name: "demotion after no timeout",
      a: "    connection: shared\n    demotion: { after: 0 }",
      keyPath: "units.A.demotion.after",
      says: "1",
    },
    {
      name: "an unknown demotion key",
      a: "    connection: shared\n    demotion: { timeouts: 3 }",
      keyPath: "units.A.demotion.timeouts",
      says: "unknown key",
    },
  ])("refuses $name, naming the key", ({ a, keyPath, says }) => {
    const found = problems(plant(a, ""));
    expect(found.map((p) => p.origin.keyPath)).toContain(keyPath);
    const problem = found.find((p) => p.origin.keyPath === keyPath);
    expect(problem?.code).toBe(ErrorCode.CONFIG);
    expect(problem?.message).toContain(says);
    expect(problem?.origin.line).toBeGreaterThan(0);
  });
});
