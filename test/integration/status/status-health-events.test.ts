/**
 * The status server of a plant on the simulators (test/support/plant-harness.ts): /health turns 503
 * when PEMEL is cut and 200 again after it recovers, naming the unit's state and reason; the event
 * stream delivers every state change of the cut and the recovery, in order, exactly as the
 * connection machine went through them (its own log lines are the independent record).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StateChange } from "../../../status/feed.ts";
import type { HealthReport } from "../../../status/health.ts";
import { type PlantHarness, startPlantHarness, waitFor } from "../../support/plant-harness.ts";
import { getJson, openEventStream, type SseStream } from "../../support/status-client.ts";
import { type CapturedLog, captureLog } from "../../support/unit-faults.ts";

let harness: PlantHarness;
let base: string;
let captured: CapturedLog;

async function health(): Promise<{ status: number; body: HealthReport }> {
  return getJson<HealthReport>(base, "/health");
}

/** The connection machine's own record: the top-level state each of its log lines announces. */
function loggedStates(lines: readonly { msg: string; unit?: string }[], unit: string): string[] {
  const states: string[] = [];
  for (const line of lines) {
    if (line.unit !== unit) continue;
    if (line.msg === `${unit} connecting`) states.push("connecting");
    else if (line.msg.startsWith(`${unit} faulted:`)) states.push("faulted");
    else if (line.msg.startsWith(`${unit} connected`)) states.push("connected");
  }
  return states;
}

function topState(value: unknown): string {
  return typeof value === "string" ? value : (Object.keys(value as object)[0] ?? "");
}

describe("status server: /health and the event stream through a cut and a recovery of PEMEL", () => {
  beforeAll(async () => {
    captured = captureLog();
    harness = await startPlantHarness({
      name: "status-health",
      log: captured.log,
      http: { host: "127.0.0.1", port: 0 },
    });
    const running = await harness.startPlant();
    base = running.statusUrl ?? "";
  });

  afterAll(async () => {
    await harness?.close();
  });

  it("serves /health/live while the plant runs and /health 200 once every unit and the historian are up", async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(base).not.toContain(":0/");
    const live = await getJson<{ live: boolean; actors: Record<string, string> }>(base, "/health/live");
    expect(live.status).toBe(200);
    expect(live.body.actors).toMatchObject({ plant: "active", "unit:PEMEL": "active", storage: "active" });
    await waitFor(
      "a healthy plant with a first good value from PEMEL",
      async () => {
        const h = await health();
        return h.status === 200 && h.body.units.PEMEL?.lastGoodSampleAgeSeconds !== null;
      },
      30_000,
    );
    const { body } = await health();
    expect(body.ok).toBe(true);
    expect(body.units.PEMEL).toMatchObject({ state: "connected", connected: true, reason: null });
    expect(body.units.PEMEL?.lastGoodSampleAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(body.historian.postgres).toMatchObject({ connected: true, draining: true });
    expect(body.spool.depth).toBeGreaterThanOrEqual(0);
  });

  it("turns 503 when PEMEL is cut, names its state and reason, and 200 again after it recovers; the stream has every change in order", async () => {
    const stream: SseStream = await openEventStream(new URL("/api/events", base).toString());
    try {
      await waitFor("the stream's hello", () => stream.events.some((e) => e.event === "hello"), 30_000);
      const hello = stream.events.find((e) => e.event === "hello")?.data as { seq: number };
      const mark = captured.mark();

      harness.pemel.setFault({ kind: "refuse-connections" });
      harness.pemel.setFault({ kind: "drop-connections" });
      let cut: HealthReport | undefined;
      await waitFor(
        "/health 503 with PEMEL down",
        async () => {
          const h = await health();
          if (h.status === 503 && h.body.units.PEMEL?.connected === false) cut = h.body;
          return cut !== undefined;
        },
        30_000,
      );
      expect(cut?.ok).toBe(false);
      expect(["faulted", "connecting"]).toContain(cut?.units.PEMEL?.state);
      expect(cut?.units.PEMEL?.reason).toEqual(expect.any(String));
      expect(cut?.units.PEMEL?.reason?.length).toBeGreaterThan(0);
      expect(cut?.units.METH?.connected).toBe(true);
      expect(cut?.problems.some((p) => p.startsWith("unit PEMEL "))).toBe(true);
      // Held down for a few reconnect attempts.
      await waitFor(
        "PEMEL to fail a reconnect",
        () => loggedStates(captured.since(mark), "PEMEL").length >= 4,
        20_000,
      );

      harness.pemel.clearFault("refuse-connections");
      await waitFor("/health 200 again", async () => (await health()).status === 200, 30_000);
      await waitFor(
        "the recovery on the stream",
        () =>
          stream.events.some(
            (e) =>
              e.event === "state" &&
              (e.data as StateChange).actor === "unit:PEMEL" &&
              (e.data as StateChange).value === "connected",
          ),
        30_000,
      );

      const changes = stream.events.filter((e) => e.event === "state").map((e) => e.data as StateChange);
      // Every change of every actor, in order: the sequence numbers follow the hello's without a gap.
      expect(changes.map((c) => c.seq)).toEqual(changes.map((_, i) => hello.seq + 1 + i));
      const pemel = changes.filter((c) => c.actor === "unit:PEMEL");
      expect(pemel.every((c) => c.machine === "connection")).toBe(true);
      expect(pemel.some((c) => JSON.stringify(c.value) === JSON.stringify({ faulted: "waiting" }))).toBe(
        true,
      );
      // The same top-level states, in the same order, as the connection machine logged on entering them.
      const streamed = pemel.map((c) => topState(c.value)).filter((s, i, all) => i === 0 || s !== all[i - 1]);
      const logged = loggedStates(captured.since(mark), "PEMEL");
      expect(streamed).toEqual(logged);
      expect(streamed[0]).toBe("faulted");
      expect(streamed.at(-1)).toBe("connected");
    } finally {
      stream.close();
    }
  });
});
