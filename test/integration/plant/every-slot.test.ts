import { afterEach, describe, expect, it } from "vitest";
import type { RunningPlant } from "../../../bin/runtime/start-plant.ts";
import type { ModbusUnitConfig, PlantConfig } from "../../../schemas/plant-types.ts";
import { startTcpProxy, type TcpProxy } from "../../../simulators/network/tcp-proxy.ts";
import { type PlantHarness, startPlantHarness, storedSamples, waitFor } from "../../support/plant-harness.ts";
import { missingSlots, printFigures, storedCycles } from "../../support/unit-faults.ts";

/**
 * Every storage slot, every unit: a third Modbus unit (GHOST, the same register map reached through a
 * proxy the test owns) hangs (connections open, nothing answered: a half-open link) or dies
 * (connections refused) while storage runs every second. Every slot is stored for every unit, the
 * healthy units' samples all good; GHOST's bad with the reason, and good again once it is back.
 */

const storageMs = 1_000;
const ghostTags = ["el_power_act", "el_current_act", "el_h2_pressure_act"];

function withGhost(proxyPort: number): (plant: PlantConfig) => PlantConfig {
  return (plant) => {
    const pemel = plant.units.find(
      (u): u is ModbusUnitConfig => u.name === "PEMEL" && u.protocol === "modbus-tcp",
    );
    if (pemel === undefined) throw new Error("config/sim.yaml has no PEMEL");
    const ghost: ModbusUnitConfig = {
      ...pemel,
      name: "GHOST",
      port: proxyPort,
      timeoutMs: 1_000,
      reconnect: { initialDelayMs: 200, maxDelayMs: 1_000, factor: 2, jitter: 0, stableAfterMs: 2_000 },
      tags: pemel.tags.filter((t) => ghostTags.includes(t.name)),
    };
    return {
      ...plant,
      units: [...plant.units, ghost],
      // Control is not part of this test: the plant without its loop writes nothing.
      control: [],
      storage: {
        ...plant.storage,
        periodMs: storageMs,
        // Half the period: GHOST (timeout 1 s) is still cut by it, and the rest of a cycle with
        // GHOST hung (the spool append, a busy machine's stalls) keeps 500 ms before the next slot.
        deadlineMs: 500,
        tags: [...plant.storage.tags, ...ghostTags.map((tag) => ({ unit: "GHOST", tag }))],
      },
    };
  };
}

describe("every storage slot, every unit", () => {
  let h: PlantHarness | undefined;
  let proxy: TcpProxy | undefined;

  afterEach(async () => {
    await h?.close();
    await proxy?.close();
    h = undefined;
    proxy = undefined;
  });

  it.each([
    ["hung (half-open: connections open, nothing answered)", "stall"],
    ["dead (connections refused)", "sever"],
  ] as const)("a unit %s costs no other unit a slot", async (name, fault) => {
    const started = await startPlantHarness({ name: `every-slot-${fault}` });
    h = started;
    proxy = await startTcpProxy({ host: "127.0.0.1", port: started.pemel.port });
    // The harness loaded the plant before the proxy existed: patch it in now.
    const patched = withGhost(proxy.port)(started.plant);
    Object.assign(started.plant, patched);
    const running: RunningPlant = await started.startPlant();
    const cycles = () => running.health().storage.cycles;
    const ghost = () => running.health().units.GHOST?.state;
    await waitFor("GHOST connected and three cycles stored", () => ghost() === "connected" && cycles() >= 3);

    if (fault === "stall") proxy.stall();
    else proxy.sever();
    const faultFrom = cycles();
    await waitFor("eight cycles with GHOST faulty", () => cycles() >= faultFrom + 8, 60_000);
    proxy.restore();
    await waitFor("GHOST back", () => ghost() === "connected", 60_000);
    const backFrom = cycles();
    await waitFor("three cycles with GHOST back", () => cycles() >= backFrom + 3, 60_000);
    const health = running.health();
    await started.stopPlant();

    const samples = await storedSamples(started.schema);
    const stored = storedCycles(samples, started.plant.storage.tags);
    const tagsPerCycle = started.plant.storage.tags.length;
    // Every slot from the first to the last cycle holds a cycle, and every cycle every tag.
    expect(missingSlots(stored, storageMs)).toBe(0);
    expect(health.storage.overruns).toBe(0);
    for (const cycle of stored) expect(cycle.samples.size).toBe(tagsPerCycle);
    // The healthy units: all good from their first good cycle on (before it, a unit may still be
    // opening its connection or its subscription: that start-up takes longer on a busy machine).
    for (const unit of ["PEMEL", "METH"]) {
      const firstGood = stored.findIndex((c) => c.quality(unit) === "good");
      expect(firstGood, `${unit} never good`).toBeGreaterThanOrEqual(0);
      for (const cycle of stored.slice(firstGood))
        expect(cycle.quality(unit), `${unit} at ${cycle.time}`).toBe("good");
    }
    const ghostBad = stored.filter((c) => c.quality("GHOST") === "bad");
    expect(ghostBad.length).toBeGreaterThanOrEqual(8);
    for (const c of ghostBad) {
      for (const reason of c.reasons("GHOST"))
        expect(reason).toMatch(
          /did not answer within the storage deadline|not connected|no reply|socket closed|cannot connect|timed out/,
        );
    }
    expect(stored.slice(-3).every((c) => c.quality("GHOST") === "good")).toBe(true);
    printFigures({
      fault: `ghost:${fault}`,
      served: stored.length,
      stored: stored.length,
      lost: missingSlots(stored, storageMs),
      duplicated: 0,
      ghostBadCycles: ghostBad.length,
      lateUnits: health.storage.lateUnits,
      description: name,
    });
  });
});
