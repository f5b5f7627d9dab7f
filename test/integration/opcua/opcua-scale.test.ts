/**
 * The OPC UA scale simulator with a plant subscribed to every one of its nodes (the generated plant
 * section of simulators/scale/scale-plant.ts, loaded like any plant file): every node's samples are
 * stored, and from the first cycle in which the subscription had delivered every node, every sample
 * is good and holds its own node's value.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningPlant, startPlant } from "../../../bin/runtime/start-plant.ts";
import { silentLog } from "../../../lib/log.ts";
import { loadPlantFile } from "../../../schemas/load-plant.ts";
import {
  type OpcuaScaleSimulator,
  opcuaScaleNodeName,
  startOpcuaScaleSimulator,
} from "../../../simulators/scale/opcua-scale-simulator.ts";
import { scalePlantYaml } from "../../../simulators/scale/scale-plant.ts";
import { dropSchema, testDatabaseUrl, uniqueSchemaName } from "../../support/pg-schema.ts";
import { byCycle, storedSamples, waitFor } from "../../support/plant-harness.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const nodes = 50;
const unit = "UA";

describe("a plant subscribed to the OPC UA scale simulator", () => {
  let sim: OpcuaScaleSimulator | undefined;
  let running: RunningPlant | undefined;
  const schema = uniqueSchemaName("opcua-scale");
  const varDir = join(repoRoot, "var", "test", `opcua-scale-${randomBytes(4).toString("hex")}`);

  beforeAll(async () => {
    await mkdir(varDir, { recursive: true });
    sim = await startOpcuaScaleSimulator({ nodes, changeEveryMs: 250, pkiDir: join(varDir, "pki", "sim") });
  }, 60_000);

  afterAll(async () => {
    await running?.stop();
    await sim?.stop();
    await dropSchema(schema);
    await rm(varDir, { recursive: true, force: true });
  });

  it(`stores every one of ${nodes} subscribed nodes good, each with its own node's value`, async () => {
    if (sim === undefined) throw new Error("no simulator");
    const file = join(varDir, "opcua-scale.yaml");
    await writeFile(
      file,
      scalePlantYaml({
        plant: "opcua-scale-test",
        units: [],
        tags: 0,
        connection: "separate",
        periodMs: 500,
        historianUrl: testDatabaseUrl,
        historianSchema: schema,
        opcua: { name: unit, endpoint: sim.endpoint, namespaceIndex: sim.namespaceIndex, nodes },
      }),
    );
    const plant = await loadPlantFile(file, { varDir, env: {} });
    expect(plant.storage.tags).toHaveLength(nodes);
    const started = await startPlant(plant, { log: silentLog() });
    running = started;
    await waitFor(
      "the OPC UA unit connected",
      () => started.health().units[unit]?.state === "connected",
      60_000,
    );
    const from = started.health().storage.cycles;
    await waitFor(
      "six cycles with the unit connected",
      () => started.health().storage.cycles >= from + 6,
      60_000,
    );
    await started.stop();
    running = undefined;

    const cycles = [...byCycle(await storedSamples(schema)).values()];
    const tags = Array.from({ length: nodes }, (_, n) => `${unit}.${opcuaScaleNodeName(n)}`);
    for (const cycle of cycles) expect([...cycle.keys()].sort()).toEqual(tags);
    const firstGood = cycles.findIndex((c) => [...c.values()].every((s) => s.quality === 0));
    expect(firstGood, "no cycle with every node good").toBeGreaterThanOrEqual(0);
    const good = cycles.slice(firstGood);
    expect(good.length).toBeGreaterThanOrEqual(4);
    for (const cycle of good) {
      for (const [n, tag] of tags.entries()) {
        const sample = cycle.get(tag);
        expect(sample?.quality, `${tag} good`).toBe(0);
        // Node n serves n·1000 + tick mod 1000: a value stored under the wrong tag names another node.
        expect(Math.floor(Number(sample?.value) / 1000), `${tag} holds its own node's value`).toBe(n);
      }
    }
  }, 120_000);
});
