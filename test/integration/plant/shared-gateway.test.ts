import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningPlant, startPlant } from "../../../bin/runtime/start-plant.ts";
import { silentLog } from "../../../lib/log.ts";
import { loadPlantText } from "../../../schemas/load-plant.ts";
import type { PlantConfig, UnitConfig } from "../../../schemas/plant-types.ts";
import {
  type ModbusScaleSimulator,
  startModbusScaleSimulator,
  tickOf,
} from "../../../simulators/scale/index.ts";
import { registerOf, scalePlantYaml, scaleUnitName } from "../../../simulators/scale/scale-plant.ts";
import { repoRoot } from "../../e2e/run-cli.ts";
import { dropSchema, testDatabaseUrl, uniqueSchemaName } from "../../support/pg-schema.ts";
import { storedSamples, waitFor } from "../../support/plant-harness.ts";
import { missingSlots, printFigures, storedCycles } from "../../support/unit-faults.ts";

/**
 * Units behind one gateway on one shared connection, in a running plant: three unit ids of the scale
 * simulator's gateway, storage every 2 s. The first unit id never answers (first in the file, so
 * first on the wire in the first cycle: the worst case). It costs the two others no storage slot and
 * no bad sample: it times out, is demoted, its requests are then refused without holding the wire,
 * and its own samples are bad with the reason. Once it answers again, its probe brings it back.
 */

/** Long enough that a loaded machine reads the answering units well inside the deadline (1.8 s). */
const storageMs = 2_000;
const tagsPerUnit = 30;
/** The silent unit's timeout: what it costs the others per cycle until demoted. */
const silentTimeoutMs = 300;
/** The answering units' timeout: long, so that a loaded machine never makes them time out. */
const answeringTimeoutMs = 2_000;

describe("units behind one gateway in a plant", () => {
  let sim: ModbusScaleSimulator | undefined;
  let running: RunningPlant | undefined;
  let schema: string | undefined;
  let varDir: string | undefined;

  afterEach(async () => {
    await running?.stop();
    await sim?.stop();
    if (schema) await dropSchema(schema).catch(() => undefined);
    if (varDir) await rm(varDir, { recursive: true, force: true });
    running = sim = schema = varDir = undefined;
  });

  it("a unit id that never answers costs the units beside it no storage slot and no bad sample", async () => {
    sim = await startModbusScaleSimulator({ units: 3, registers: tagsPerUnit, shape: "gateway" });
    const silent = sim.units[0]!;
    sim.setSilent(silent.unitId, true);
    schema = uniqueSchemaName("shared-gateway");
    varDir = join(repoRoot, "var", "test", schema);
    await mkdir(varDir, { recursive: true });
    const loaded = loadPlantText(
      scalePlantYaml({
        plant: "shared-gateway",
        units: sim.units,
        tags: tagsPerUnit,
        connection: "shared",
        periodMs: storageMs,
        deadlineMs: 1_800,
        demotion: { after: 3, periodMs: 2_000, maxPeriodMs: 8_000 },
        reconnect: { initialDelayMs: 200, maxDelayMs: 1_000 },
        historianUrl: testDatabaseUrl,
        historianSchema: schema,
      }),
      join(varDir, "shared-gateway.yaml"),
      { varDir, env: {} },
    );
    const plant: PlantConfig = {
      ...loaded,
      units: loaded.units.map(
        (u): UnitConfig =>
          u.protocol === "modbus-tcp"
            ? {
                ...u,
                timeoutMs: u.name === scaleUnitName(silent.index) ? silentTimeoutMs : answeringTimeoutMs,
              }
            : u,
      ),
    };
    running = await startPlant(plant, { log: silentLog() });
    const live = running;
    const cycles = () => live.health().storage.cycles;
    await waitFor("eight cycles with the unit id silent", () => cycles() >= 8, 60_000);
    sim.setSilent(silent.unitId, false);
    const back = cycles();
    // its probe comes at the end of a demotion (at most 8 s), then a cycle stores it good
    await waitFor(
      "the silent unit answering again in three cycles",
      async () => {
        if (cycles() < back + 3) return false;
        const stored = storedCycles(await storedSamples(schema as string), plant.storage.tags);
        return stored.slice(-3).every((c) => c.quality(scaleUnitName(silent.index)) === "good");
      },
      60_000,
    );
    const health = live.health();
    await live.stop();
    running = undefined;

    const samples = await storedSamples(schema);
    const stored = storedCycles(samples, plant.storage.tags);
    const silentName = scaleUnitName(silent.index);
    const answering = sim.units.filter((u) => u !== silent);
    // every slot, every tag
    expect(missingSlots(stored, storageMs)).toBe(0);
    for (const cycle of stored) expect(cycle.samples.size).toBe(3 * tagsPerUnit);
    expect(health.storage.overruns).toBe(0);
    expect(health.storage.lateUnits).toBe(0);
    // the answering units: good in every cycle (the first may precede their connection), each value as served
    for (const [i, cycle] of stored.entries()) {
      for (const u of answering) {
        const name = scaleUnitName(u.index);
        if (i === 0 && cycle.quality(name) !== "good") {
          for (const reason of cycle.reasons(name)) expect(reason).toMatch(/not connected/);
          continue;
        }
        expect(cycle.quality(name), `${name} at ${cycle.time}: ${cycle.reasons(name)[0]}`).toBe("good");
      }
    }
    for (const s of samples) {
      const [unitName, tagName] = s.tag.split(".") as [string, string];
      const unit = sim.units.find((u) => scaleUnitName(u.index) === unitName);
      if (unit === undefined || s.quality !== 0) continue;
      const register = registerOf(tagName);
      const tick = tickOf(unit.index, register, s.value as number);
      expect(sim.served.servedAt(unit.unitId, register, tick), `${s.tag} = ${s.value}`).toBe(true);
    }
    // the silent unit: bad with its own reason while silent (never "not connected": its link stayed up)
    const silentBad = stored.filter((c) => c.quality(silentName) === "bad");
    expect(silentBad.length).toBeGreaterThanOrEqual(7);
    const reasons = new Set(silentBad.flatMap((c) => c.reasons(silentName)));
    for (const reason of reasons) {
      expect(reason).toMatch(
        /^(no reply from unit id 1 within 300 ms|demoted for \d+ s after \d+ timeouts in a row)$/,
      );
    }
    expect([...reasons].some((r) => r.startsWith("demoted"))).toBe(true);
    // one connection, never lost
    for (const unit of Object.values(health.units))
      expect(unit).toMatchObject({ state: "connected", faults: 0 });
    expect(sim.connections()).toBe(0);
    printFigures({
      fault: "gateway:silent-unit-id",
      served: stored.length,
      stored: stored.length,
      lost: missingSlots(stored, storageMs),
      duplicated: 0,
      silentBadCycles: silentBad.length,
      unanswered: sim.served.unit(silent.unitId)?.unanswered ?? 0,
      description: "a unit id behind the shared gateway never answers, then answers again",
    });
  });
});
