import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlantFile } from "../../schemas/load-plant.ts";
import type { OpcuaUnitConfig, PlantConfig } from "../../schemas/plant-types.ts";
import { repoRoot, runCli } from "./run-cli.ts";

const env = { PB_SIM_PEMEL_PORT: "15020", PB_SIM_METH_ENDPOINT: "opc.tcp://127.0.0.1:48400/UA/METH" };

function meth(plant: PlantConfig): OpcuaUnitConfig {
  const unit = plant.units.find((u): u is OpcuaUnitConfig => u.name === "METH" && u.protocol === "opcua");
  if (unit === undefined) throw new Error(`${plant.file} has no OPC UA unit METH`);
  return unit;
}

/** Everything but the file, the plant's name (and its spool file) and METH's subscription settings. */
function withoutSubscriptionSettings(plant: PlantConfig): unknown {
  const strip = (value: unknown): unknown =>
    JSON.parse(
      JSON.stringify(value, (key, v: unknown) => (key === "position" || key === "file" ? undefined : v)),
    );
  const units = plant.units.map((u) =>
    u.protocol !== "opcua"
      ? u
      : {
          ...u,
          publishingIntervalMs: null,
          tags: u.tags.map((t) => ({ ...t, samplingIntervalMs: null })),
        },
  );
  const storage = { ...plant.storage, spool: { ...plant.storage.spool, path: null } };
  return strip({ ...plant, name: null, description: null, units, storage });
}

describe("config/sim-fast.yaml", () => {
  it("passes plantbridge check", async () => {
    const result = await runCli(["check", "config/sim-fast.yaml"], { env });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/config\/sim-fast\.yaml: ok — plant "power-to-gas-sim-fast", 2 units/);
  });

  it("is config/sim.yaml with METH publishing every 10 ms and the demand sampled at 0", async () => {
    const fast = await loadPlantFile(join(repoRoot, "config", "sim-fast.yaml"), { env });
    const sim = await loadPlantFile(join(repoRoot, "config", "sim.yaml"), { env });
    expect(meth(fast).publishingIntervalMs).toBe(10);
    expect(meth(fast).tags.find((t) => t.name === "h2_demand")).toMatchObject({
      mode: "subscribe",
      samplingIntervalMs: 0,
    });
    expect(meth(sim).publishingIntervalMs).toBe(100);
    expect(withoutSubscriptionSettings(fast)).toEqual(withoutSubscriptionSettings(sim));
  });
});
