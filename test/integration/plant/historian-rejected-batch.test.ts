import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { RunningPlant } from "../../../bin/runtime/start-plant.ts";
import { silentLog } from "../../../lib/log.ts";
import {
  type Cycle,
  historianArrival,
  pemelGood,
  pemelStorageReads,
  printFaultFigures,
  readSpoolFile,
  samplesPerCycle,
} from "../../support/historian-faults.ts";
import { testPool } from "../../support/pg-schema.ts";
import {
  byCycle,
  type PlantHarness,
  startPlantHarness,
  storedSamples,
  waitFor,
} from "../../support/plant-harness.ts";
import { accountPemel, deadlineReason } from "../../support/served-reads.ts";

/**
 * A batch the database refuses must not block the spool. Once the plant has created its tables,
 * the test adds a CHECK constraint that refuses one real value: PEMEL's "H2 cooling temperature
 * reached" bit while it is 0 (the simulator holds it off under its cooling-lost fault until the
 * test clears it, whatever the time the start-up took). The cycles taken meanwhile each carry one
 * refused row: exactly those rows go to the spool's dead letters with the database's reason, every
 * other row is stored, and delivery flows on.
 */
describe("rows the database refuses are dead-lettered, the rest flows", () => {
  const periodMs = 500;
  const sink = "postgres";
  const refusedTag = "PEMEL.h2_cooling_temperature_reached";
  const constraint = "cooling_reached_only";
  let h: PlantHarness;

  beforeAll(async () => {
    h = await startPlantHarness({
      name: "historian-rejected",
      pemel: { warmUpMs: 500 },
      patch: (plant) => ({ ...plant, storage: { ...plant.storage, periodMs } }),
    });
    // Bit 10 stays 0 until the constraint has refused rows (a timed warm-up raced the start-up of
    // the harness on a loaded machine: the bit could be 1 before the constraint was in place).
    h.pemel.setFault({ kind: "cooling-lost" });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("dead-letters exactly the refused rows with the reason, stores all others, keeps flowing", async () => {
    const running: RunningPlant = await h.startPlant();
    const pool = await testPool();
    try {
      const tags = sql.identifier([h.schema, "tags"]);
      let tagIdOfRefused: number | undefined;
      await waitFor("the plant created its tables and registered its tags", async () => {
        const exists = await pool.maybeOneFirst(
          sql.type(
            z.object({ t: z.string().nullable() }),
          )`SELECT to_regclass(${`${h.schema}.tags`})::text AS t`,
        );
        if (exists === null) return false;
        tagIdOfRefused =
          (await pool.maybeOneFirst(
            sql.type(z.object({ id: z.number() }))`SELECT id FROM ${tags} WHERE name = ${refusedTag}`,
          )) ?? undefined;
        return tagIdOfRefused !== undefined;
      });
      expect(h.pemel.state().coolingReady).toBe(false);
      // NOT VALID: rows already stored are kept; every row inserted from now on is checked.
      await pool.query(sql.unsafe`
        ALTER TABLE ${sql.identifier([h.schema, "samples"])}
        ADD CONSTRAINT ${sql.identifier([constraint])}
        CHECK (tag_id <> ${sql.literalValue(String(tagIdOfRefused))} OR value <> 0) NOT VALID`);
    } finally {
      await pool.end();
    }

    await waitFor(
      "rows refused and dead-lettered",
      () => (running.health().sinks[sink]?.deadLettered ?? 0) >= 3,
    );
    h.pemel.clearFault("cooling-lost");
    await waitFor(
      "the cooling temperature reached (the refused value no longer served)",
      () => h.pemel.state().coolingReady,
    );
    const afterWarmUp = running.health().storage.cycles;
    await waitFor("six more cycles delivered, the spool empty again", () => {
      const health = running.health();
      const spool = health.spool;
      return health.storage.cycles >= afterWarmUp + 6 && "pending" in spool && spool.pending[sink] === 0;
    });
    const whileRunning = running.health();
    await h.stopPlant();
    const final = running.health();

    const spool = openSpool({
      path: h.plant.storage.spool.path,
      sinks: [sink],
      maxSamples: h.plant.storage.spool.maxSamples,
      synchronous: "NORMAL",
      log: silentLog(),
    });
    const deadLetters = (() => {
      try {
        return spool.readDeadLetters(sink, 100_000);
      } finally {
        spool.close();
      }
    })();
    const stored = await storedSamples(h.schema);
    const cycles = byCycle(stored);
    const storageCycles = final.storage.cycles;
    const served = pemelStorageReads(h.pemel);
    const arrival = await historianArrival(h.schema);
    const spoolFile = readSpoolFile(h.plant.storage.spool.path);

    // Exactly the refused rows are dead letters: PEMEL's bit 10 while it was 0, with the database's reason.
    expect(deadLetters.length).toBeGreaterThanOrEqual(3);
    for (const d of deadLetters) {
      expect(d.tag).toBe(refusedTag);
      expect(d.value).toBe(false);
      expect(d.quality).toBe("good");
      expect(d.sink).toBe(sink);
      expect(d.error).toMatch(/SQLSTATE 23514/);
      expect(d.error).toContain(constraint);
      expect(cycles.get(d.time)?.has(refusedTag)).toBe(false);
    }
    const firstRefused = Math.min(...deadLetters.map((d) => d.time));
    // Every 0 of that tag stored was delivered before the constraint existed; none after it.
    const storedZeros = stored.filter((s) => s.tag === refusedTag && s.value === 0);
    for (const s of storedZeros) expect(s.time).toBeLessThan(firstRefused);
    // The refused cycles are consecutive: the bit was 0 from the constraint until the fault cleared,
    // and every cycle in between had its row refused.
    const refusedTimes = deadLetters.map((d) => d.time).sort((a, b) => a - b);
    const lastRefused = Math.max(...refusedTimes);
    // (A cycle the storage deadline cut on a busy machine holds no value, so nothing to refuse.)
    const inRefusedStretch = [...cycles.entries()].filter(([t]) => t >= firstRefused && t <= lastRefused);
    const cut = inRefusedStretch.filter(([, c]) => (c.get(refusedTag)?.quality ?? 0) !== 0);
    for (const [, c] of cut) expect(c.get(refusedTag)?.reason).toMatch(deadlineReason);
    const between = inRefusedStretch.filter((entry) => !cut.includes(entry)).map(([t]) => t);
    expect(between).toEqual(refusedTimes);

    // Every other row of those cycles and of all others is stored: 33 per cycle, tables plus dead letters.
    const deadAt = new Map(deadLetters.map((d) => [d.time, d]));
    expect(cycles.size).toBe(storageCycles);
    for (const [time, cycle] of cycles) {
      expect(cycle.size + (deadAt.has(time) ? 1 : 0), `samples at ${time}`).toBe(samplesPerCycle);
    }
    expect(stored.length + deadLetters.length).toBe(storageCycles * samplesPerCycle);
    expect(spoolFile.lastSeq).toBe(storageCycles * samplesPerCycle);

    // Stored values and dead letters together are exactly what PEMEL served, read for read.
    const merged: [number, Cycle][] = [...cycles.entries()].map(([time, cycle]) => {
      const dead = deadAt.get(time);
      if (dead === undefined) return [time, cycle];
      const withDead = new Map(cycle);
      withDead.set(refusedTag, {
        tag: refusedTag,
        time,
        value: dead.value ? 1 : 0,
        quality: 0,
        reason: null,
      });
      return [time, withDead];
    });
    // (A bad PEMEL record is a start-up cycle, or one the storage deadline cut on a busy machine:
    // said so, counted, and its read, if served, came too late.)
    const account = accountPemel(merged, served, periodMs);
    expect(account.startupBad.every((t) => t < (account.good[0] ?? 0))).toBe(true);
    expect(account.otherBad).toEqual([]);
    expect(account.deadlineCuts.length).toBeLessThanOrEqual(final.storage.lateUnits);
    expect(account.unexplainedRecords).toEqual([]);
    expect(account.unexplainedReads).toEqual([]);
    expect(account.paired.length).toBe(account.good.length);

    // Health counts them, and the forwarder went on delivering: nothing pending, nothing dropped.
    expect(whileRunning.sinks[sink]?.deadLettered).toBe(deadLetters.length);
    expect(whileRunning.spool).toMatchObject({ deadLettered: deadLetters.length, dropped: 0 });
    expect(final.spool).toMatchObject({
      deadLettered: deadLetters.length,
      dropped: 0,
      pending: { [sink]: 0 },
    });
    expect(final.sinks[sink]?.delivered).toBe(stored.length);
    expect(spoolFile.deadLettered).toBe(deadLetters.length);
    expect(spoolFile.undelivered).toEqual([]);
    expect([...cycles.keys()].filter((t) => t > lastRefused).length).toBeGreaterThanOrEqual(6);
    expect(arrival.rows).toBe(arrival.keys);
    expect(arrival.outOfOrder).toBe(0);

    const duplicated =
      arrival.rows - arrival.keys + spoolFile.duplicates + Math.max(0, cycles.size - storageCycles);
    const storedRecords = [...cycles.values()].filter(pemelGood).length;
    printFaultFigures({
      fault: "historian-rejected-rows",
      served: served.length,
      stored: storedRecords,
      lost: served.length - storedRecords,
      duplicated,
      deadLettered: deadLetters.length,
      storageCycles,
      storedRows: stored.length,
      storageOverruns: final.storage.overruns,
      deadlineCuts: account.deadlineCuts.length,
    });
    expect(duplicated).toBe(0);
    expect(storedRecords).toBe(served.length - account.answeredTooLate.length);
  }, 60_000);
});
