import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  byCycle,
  type PlantHarness,
  startPlantHarness,
  storedSamples,
  waitFor,
} from "../../support/plant-harness.ts";

/**
 * "The stored records hold exactly what the units served": every PEMEL record in the historian is,
 * register for register, one read the PEMEL simulator served — in the same order, none missing.
 */
describe("the historian holds exactly what PEMEL served", () => {
  let h: PlantHarness;
  const storageMs = 250;

  beforeAll(async () => {
    h = await startPlantHarness({
      name: "stored-served",
      patch: (plant) => ({ ...plant, storage: { ...plant.storage, periodMs: storageMs } }),
    });
    const running = await h.startPlant();
    await waitFor("20 storage cycles", () => running.health().storage.cycles >= 20);
    await h.stopPlant();
  }, 90_000);

  afterAll(async () => {
    await h?.close();
  });

  it("one record per cycle, each equal to a served 18-register read of 0x8061..0x8072, in order", async () => {
    const cycles = [...byCycle(await storedSamples(h.schema)).entries()];
    expect(cycles.length).toBeGreaterThanOrEqual(20);
    // Storage reads the status word and the 14 values in one request (the 3-register gap is bridged);
    // the control loop reads only the status word (1 register). So 18-register reads are storage's.
    const served = h.pemel.served.reads.filter((r) => r.address === 0x8061 && r.count === 18);
    const goodCycles = cycles.filter(([, c]) => c.get("PEMEL.el_power_act")?.quality === 0);
    expect(goodCycles.length).toBe(served.length);
    const valueTags = [
      "el_power_act",
      "el_current_act",
      "el_h2_pressure_act",
      "el_conductance_act",
      "el_temp_in_act",
      "el_propventil",
      "el_calch2flow_act",
      "el_calch2volume_sum",
      "el_1_temp_out_act",
      "el_2_temp_out_act",
      "el_3_temp_out_act",
      "el_4_temp_out_act",
      "el_5_temp_out_act",
      "el_h2_cooling_temp_act",
    ];
    goodCycles.forEach(([time, cycle], i) => {
      const read = served[i];
      if (!read) throw new Error(`no served read for cycle ${time}`);
      const words = read.values;
      const status = words[0] as number;
      expect(cycle.get("PEMEL.h2_cooling_temperature_reached")?.value).toBe((status >> 10) & 1);
      expect(cycle.get("PEMEL.error")?.value).toBe(status & 1);
      valueTags.forEach((tag, k) => {
        expect(cycle.get(`PEMEL.${tag}`)?.value, `${tag} at ${time}`).toBe(words[4 + k]);
      });
    });
    // Cycle times follow the drift-free schedule: whole multiples of the period, none twice.
    for (const [time] of cycles) expect(time % storageMs).toBe(0);
    expect(new Set(cycles.map(([t]) => t)).size).toBe(cycles.length);
  });
});
