/**
 * `plantbridge run` loads only the protocol stacks of the plant's units: a Modbus-only plant never
 * loads node-opcua (about 100 MB of RSS), an OPC UA-only plant never jsmodbus. Both plants run
 * against the scale simulators (in this process) and store into the test PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModbusScaleSimulator, startModbusScaleSimulator } from "../../simulators/scale/index.ts";
import {
  type OpcuaScaleSimulator,
  startOpcuaScaleSimulator,
} from "../../simulators/scale/opcua-scale-simulator.ts";
import { type ScalePlantOptions, scalePlantYaml } from "../../simulators/scale/scale-plant.ts";
import { dropSchema, testDatabaseUrl, uniqueSchemaName } from "../support/pg-schema.ts";
import { repoRoot, runCli } from "./run-cli.ts";

const probe = fileURLToPath(new URL("../support/report-loaded-stacks.ts", import.meta.url));
const loaded = (stderr: string) => [...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]);

describe("plantbridge run loads only the stacks its plant needs", () => {
  const varDir = join(repoRoot, "var", "test", `run-lean-${randomBytes(4).toString("hex")}`);
  const schemas: string[] = [];
  let modbus: ModbusScaleSimulator | undefined;
  let opcua: OpcuaScaleSimulator | undefined;

  beforeAll(async () => {
    await mkdir(varDir, { recursive: true });
    modbus = await startModbusScaleSimulator({ units: 1, registers: 20, shape: "devices" });
    opcua = await startOpcuaScaleSimulator({ nodes: 5, pkiDir: join(varDir, "pki", "sim") });
  }, 60_000);

  afterAll(async () => {
    await modbus?.stop();
    await opcua?.stop();
    for (const schema of schemas) await dropSchema(schema);
    await rm(varDir, { recursive: true, force: true });
  });

  async function run(name: string, plant: Omit<ScalePlantOptions, "plant" | "connection" | "periodMs">) {
    const schema = uniqueSchemaName(`run-lean-${name}`);
    schemas.push(schema);
    const file = join(varDir, `${name}.yaml`);
    await writeFile(
      file,
      scalePlantYaml({
        plant: `run-lean-${name}`,
        connection: "separate",
        periodMs: 500,
        historianUrl: testDatabaseUrl,
        historianSchema: schema,
        ...plant,
      }),
    );
    const result = await runCli(
      [
        "run",
        file,
        "--var",
        join(varDir, name),
        "--duration",
        "3",
        "--http",
        "127.0.0.1:0",
        "--log-level",
        "warn",
      ],
      { env: { NODE_OPTIONS: `--import=${probe}` }, timeoutMs: 90_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      health?: { storage?: { samples?: number } };
    };
    // The plant ran: it took samples (the probe would see nothing of a plant that never started).
    expect(summary.health?.storage?.samples ?? 0).toBeGreaterThan(0);
    return loaded(result.stderr);
  }

  it("a Modbus-only plant loads jsmodbus and never node-opcua", async () => {
    if (modbus === undefined) throw new Error("no simulator");
    expect(await run("modbus", { units: modbus.units, tags: 20 })).toEqual(["jsmodbus"]);
  }, 120_000);

  it("an OPC UA-only plant loads node-opcua and never jsmodbus", async () => {
    if (opcua === undefined) throw new Error("no simulator");
    const ua = { endpoint: opcua.endpoint, namespaceIndex: opcua.namespaceIndex, nodes: 5 };
    expect(await run("opcua", { units: [], tags: 0, opcua: ua })).toEqual(["node-opcua"]);
  }, 120_000);
});
