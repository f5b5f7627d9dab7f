import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { repoRoot, runCli } from "../../e2e/run-cli.ts";
import {
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
import { accountPemel } from "../../support/served-reads.ts";

/**
 * Dead letters go back to the historian once the cause is fixed. The database refuses PEMEL's
 * "H2 cooling temperature reached" bit while it is 0 (a CHECK added after the plant made its
 * tables), so the cycles taken while the bit is 0 (the simulator's cooling-lost fault, held until
 * the test clears it) leave one dead letter each. While the plant runs,
 * `plantbridge spool replay` refuses (naming this process) and `status` reads. With the plant
 * stopped and the constraint dropped, `replay` puts them back; the next start delivers them: the
 * historian then holds every sample of every cycle, and the spool no dead letter.
 */
describe("replayed dead letters reach the historian", () => {
  const periodMs = 500;
  const sink = "postgres";
  const refusedTag = "PEMEL.h2_cooling_temperature_reached";
  const constraint = "cooling_reached_only";
  let h: PlantHarness;

  const spoolCli = (...args: string[]) =>
    runCli(["spool", ...args, `${repoRoot}config/sim.yaml`, "--var", h.varDir], { timeoutMs: 60_000 });

  beforeAll(async () => {
    h = await startPlantHarness({
      name: "spool-replay",
      pemel: { warmUpMs: 500 },
      patch: (plant) => ({ ...plant, storage: { ...plant.storage, periodMs } }),
    });
    // Bit 10 stays 0 until the test clears the fault: a timed warm-up raced the harness's start-up
    // and the CLI runs below on a loaded machine.
    h.pemel.setFault({ kind: "cooling-lost" });
  });

  afterAll(async () => {
    await h?.close();
  });

  async function refuseTheBitWhileZero(): Promise<void> {
    const pool = await testPool();
    try {
      const tags = sql.identifier([h.schema, "tags"]);
      let id: number | null = null;
      await waitFor("the plant registered its tags", async () => {
        const exists = await pool.maybeOneFirst(
          sql.type(
            z.object({ t: z.string().nullable() }),
          )`SELECT to_regclass(${`${h.schema}.tags`})::text AS t`,
        );
        if (exists === null) return false;
        id = await pool.maybeOneFirst(
          sql.type(z.object({ id: z.number() }))`SELECT id FROM ${tags} WHERE name = ${refusedTag}`,
        );
        return id !== null;
      });
      await pool.query(sql.unsafe`
        ALTER TABLE ${sql.identifier([h.schema, "samples"])} ADD CONSTRAINT ${sql.identifier([constraint])}
        CHECK (tag_id <> ${sql.literalValue(String(id))} OR value <> 0) NOT VALID`);
    } finally {
      await pool.end();
    }
  }

  it("refuses replay while the plant runs, replays once it is stopped, and the next start delivers", async () => {
    const running = await h.startPlant();
    await refuseTheBitWhileZero();
    expect(h.pemel.state().coolingReady).toBe(false);
    await waitFor(
      "rows refused and dead-lettered",
      () => (running.health().sinks[sink]?.deadLettered ?? 0) >= 3,
    );

    const refused = await spoolCli("replay");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`is in use by process ${process.pid} (plant, since `);
    const live = await spoolCli("status", "--json");
    expect(live.code).toBe(0);
    expect(JSON.parse(live.stdout)).toMatchObject({ owner: { pid: process.pid, role: "plant" } });

    h.pemel.clearFault("cooling-lost");
    await waitFor("PEMEL cooled (the refused value no longer served)", () => h.pemel.state().coolingReady);
    const warm = running.health().storage.cycles;
    await waitFor("two more cycles", () => running.health().storage.cycles >= warm + 2);
    await h.stopPlant();
    const first = running.health();
    const deadLettered = first.sinks[sink]?.deadLettered ?? 0;
    expect(readSpoolFile(h.plant.storage.spool.path)).toMatchObject({ deadLettered, undelivered: [] });

    const pool = await testPool();
    try {
      await pool.query(
        sql.unsafe`ALTER TABLE ${sql.identifier([h.schema, "samples"])} DROP CONSTRAINT ${sql.identifier([constraint])}`,
      );
    } finally {
      await pool.end();
    }
    const replay = await spoolCli("replay");
    expect(replay.stderr).toBe("");
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(new RegExp(`^replayed ${deadLettered} dead letters into `));

    const again = await h.startPlant();
    await waitFor("the replayed samples delivered", () => {
      const spool = again.health().spool;
      return (
        (again.health().sinks[sink]?.delivered ?? 0) >= deadLettered &&
        "pending" in spool &&
        spool.pending[sink] === 0
      );
    });
    await h.stopPlant();

    const stored = await storedSamples(h.schema);
    const arrival = await historianArrival(h.schema);
    const cycles = [...byCycle(stored).values()];
    const totalCycles = first.storage.cycles + again.health().storage.cycles;
    expect(cycles.length).toBe(totalCycles);
    for (const cycle of cycles) expect(cycle.size).toBe(samplesPerCycle);
    const zeros = cycles.filter((c) => c.get(refusedTag)?.value === 0).length;
    expect(zeros).toBeGreaterThanOrEqual(deadLettered);
    expect(arrival.rows).toBe(arrival.keys);
    const served = pemelStorageReads(h.pemel).length;
    const good = cycles.filter(pemelGood).length;
    // A cycle the storage deadline cut on a busy machine stores PEMEL bad saying so (counted); the
    // read PEMEL served for it came too late. Every other served read is a good record.
    const account = accountPemel([...byCycle(stored).entries()], pemelStorageReads(h.pemel), periodMs);
    expect(account.otherBad).toEqual([]);
    expect(account.deadlineCuts.length).toBeLessThanOrEqual(
      first.storage.lateUnits + again.health().storage.lateUnits,
    );
    expect(account.unexplainedRecords).toEqual([]);
    expect(account.unexplainedReads).toEqual([]);
    printFaultFigures({
      fault: "dead-letters-replayed",
      served,
      stored: good,
      lost: served - good,
      duplicated: arrival.rows - arrival.keys,
      storageCycles: totalCycles,
      storedRows: stored.length,
      deadLettered,
      replayed: deadLettered,
    });
    expect(stored.length).toBe(totalCycles * samplesPerCycle);
    expect(served - good).toBe(account.answeredTooLate.length);
    const status = await spoolCli("status", "--json");
    expect(JSON.parse(status.stdout)).toMatchObject({
      deadLetters: { held: 0 },
      counters: { deadLettered, deadLettersReplayed: deadLettered, dropped: 0 },
      sinks: [{ sink, pending: 0 }],
    });
  }, 90_000);
});
