import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningPlant } from "../../../bin/runtime/start-plant.ts";
import { type PlantHarness, startPlantHarness, waitFor } from "../../support/plant-harness.ts";
import {
  captureLog,
  collapseRepeats,
  controlEvaluations,
  fastPlant,
  loopHealth,
  referenceSetpoint,
  unitHealth,
  writesSince,
} from "../../support/unit-faults.ts";

/**
 * METH's subscription fails while its session lives, against the real OPC UA stack: the server
 * refuses new subscriptions (BadTooManySubscriptions) or stops publishing (no data, no keep-alive).
 * The demand it pushed counts only while the subscription shows life; the fail-safe follows its
 * limit later, once; a refused subscription is retried with backoff, and control follows again
 * once the server publishes.
 */

const failSafeMs = 2_500;

describe("METH subscription alive or bad", () => {
  let h: PlantHarness;
  let running: RunningPlant;
  let setpointFor: (demand: number) => number;

  const captured = captureLog();
  beforeAll(async () => {
    h = await startPlantHarness({
      name: "meth-subscription",
      log: captured.log,
      pemel: { warmUpMs: 500 },
      patch: fastPlant({
        storageMs: 1_000,
        controlMs: 250,
        failSafeMs,
        pemel: {
          timeoutMs: 1_000,
          reconnect: { initialDelayMs: 300, maxDelayMs: 2_000, factor: 2, jitter: 0, stableAfterMs: 10_000 },
        },
        meth: {
          timeoutMs: 900,
          keepAliveMs: 500,
          reconnect: { initialDelayMs: 300, maxDelayMs: 1_000, factor: 2, jitter: 0, stableAfterMs: 10_000 },
        },
      }),
    });
    setpointFor = await referenceSetpoint(h.plant);
    h.meth.setDemand(8);
    running = await h.startPlant();
    await waitFor("following METH's demand", () =>
      writesSince(h.pemel, 0).some((w) => w.value === setpointFor(8)),
    );
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it("silent subscription: the demand goes bad, the fail-safe is written once, following resumes when METH publishes again", async () => {
    const silentAt = Date.now();
    const faultsBefore = unitHealth(running, "METH").faults;
    const pemelBefore = unitHealth(running, "PEMEL").reconnects;
    const writeFailuresBefore = loopHealth(running).writeFailures;
    h.meth.setFault({ kind: "silent-subscriptions" });
    const failSafe = h.plant.control[0]?.failSafe.value ?? -1;
    await waitFor("the fail-safe write", () => writesSince(h.pemel, silentAt).length > 0, 30_000);
    const first = writesSince(h.pemel, silentAt)[0];
    expect(first?.value).toBe(failSafe);
    // Not before its limit: the subscription must first be silent past its own limit.
    expect((first?.time ?? 0) - silentAt).toBeGreaterThanOrEqual(failSafeMs);
    expect(loopHealth(running).lastDecision).toMatch(/fail-safe .*METH\.h2_demand/);
    h.meth.setDemand(11);
    await controlEvaluations(running, 8);
    expect(writesSince(h.pemel, silentAt)).toEqual([first]);

    h.meth.clearFaults();
    await waitFor(
      "following the fresh demand",
      () => writesSince(h.pemel, silentAt).some((w) => w.value === setpointFor(11)),
      30_000,
    );
    // The same decision goes out again only after PEMEL reconnected or a write failed (e.g. timed
    // out on a busy machine, though PEMEL had carried it out): each repeat is explained by one.
    const written = writesSince(h.pemel, silentAt).map((w) => w.value);
    const { values, repeats } = collapseRepeats(written);
    expect(values).toEqual([failSafe, setpointFor(11)]);
    expect(repeats).toBeLessThanOrEqual(
      unitHealth(running, "PEMEL").reconnects -
        pemelBefore +
        loopHealth(running).writeFailures -
        writeFailuresBefore,
    );
    expect(unitHealth(running, "METH").state).toBe("connected");
    // The cure of a silent subscription is a fresh session: the link faulted for it, and came back.
    expect(unitHealth(running, "METH").faults).toBeGreaterThan(faultsBefore);
  });

  it("refused subscription: retried with backoff while the session lives; the link never faults for it", async () => {
    // A fresh session for this phase: drop METH's connections while new subscriptions are refused.
    await waitFor("METH connected", () => unitHealth(running, "METH").state === "connected");
    const subscriptionsBefore = h.meth.served.subscriptions;
    h.meth.setFault({ kind: "refuse-subscriptions" });
    h.meth.setFault({ kind: "drop-connections" });
    await waitFor(
      "METH reconnected",
      () => {
        const unit = unitHealth(running, "METH");
        return unit.state === "connected" && h.meth.served.subscriptions >= subscriptionsBefore + 3;
      },
      30_000,
    );
    const faults = unitHealth(running, "METH").faults;
    expect(loopHealth(running).lastDecision).toMatch(
      /METH subscription not running: .*BadTooManySubscriptions/,
    );
    h.meth.setDemand(13);
    h.meth.clearFaults();
    await waitFor(
      "following once the subscription runs",
      () =>
        loopHealth(running).lastDecision?.includes(`→ PEMEL.current_setpoint ${setpointFor(13)}`) === true,
      30_000,
    );
    expect(unitHealth(running, "METH").faults).toBe(faults);
  });
});
