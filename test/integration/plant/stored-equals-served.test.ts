import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pemelStorageReads } from "../../support/historian-faults.ts";
import {
  byCycle,
  type PlantHarness,
  startPlantHarness,
  storedSamples,
  waitFor,
} from "../../support/plant-harness.ts";
import { accountPemel } from "../../support/served-reads.ts";

/**
 * "The stored records hold exactly what the units served": every PEMEL record in the historian is,
 * register for register, one read the PEMEL simulator served — in the same order, none missing.
 */
describe("the historian holds exactly what PEMEL served", () => {
  let h: PlantHarness;
  let lateUnits = 0;
  const storageMs = 250;

  beforeAll(async () => {
    h = await startPlantHarness({
      name: "stored-served",
      patch: (plant) => ({ ...plant, storage: { ...plant.storage, periodMs: storageMs } }),
    });
    const running = await h.startPlant();
    // 20 cycles the storage deadline did not cut (on a busy machine it cuts some: counted).
    await waitFor("20 storage cycles", () => {
      const storage = running.health().storage;
      return storage.cycles - storage.lateUnits >= 20;
    });
    await h.stopPlant();
    lateUnits = running.health().storage.lateUnits;
  }, 90_000);

  afterAll(async () => {
    await h?.close();
  });

  it("one record per cycle, each equal to a served 18-register read of 0x8061..0x8072, in order", async () => {
    const cycles = [...byCycle(await storedSamples(h.schema)).entries()];
    expect(cycles.length).toBeGreaterThanOrEqual(20);
    // Storage reads the status word and the 14 values in one request (the 3-register gap is bridged);
    // the control loop reads only the status word (1 register). So 18-register reads are storage's.
    const served = pemelStorageReads(h.pemel);
    // Every good record holds, bit for bit and register for register, the read served for its
    // cycle; a bad one is a start-up cycle or one the storage deadline cut (said so, counted), and
    // a read served for it came too late. Nothing else is missing.
    const account = accountPemel(cycles, served, storageMs);
    expect(account.otherBad).toEqual([]);
    expect(account.startupBad.every((t) => t < (account.good[0] ?? 0))).toBe(true);
    expect(account.deadlineCuts.length).toBeLessThanOrEqual(lateUnits);
    expect(account.unexplainedRecords).toEqual([]);
    expect(account.unexplainedReads).toEqual([]);
    expect(account.paired.length).toBe(account.good.length);
    expect(account.good.length).toBeGreaterThanOrEqual(10);
    expect(served.length).toBe(account.good.length + account.answeredTooLate.length);
    // In order: the k-th good record holds a read served after the (k-1)-th one's.
    const order = account.paired.map((p) => served.indexOf(p.read));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // Cycle times follow the drift-free schedule: whole multiples of the period, none twice.
    for (const [time] of cycles) expect(time % storageMs).toBe(0);
    expect(new Set(cycles.map(([t]) => t)).size).toBe(cycles.length);
  });
});
