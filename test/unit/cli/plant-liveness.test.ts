import { describe, expect, it } from "vitest";
import { createLivenessCheck } from "../../../bin/runtime/plant-liveness.ts";
import type { PlantHealth } from "../../../machines/plant-health.ts";
import type { PlantConfig } from "../../../schemas/plant-types.ts";

const plant = {
  storage: { periodMs: 10_000, tags: [{ unit: "PEMEL", tag: "power" }] },
  control: [{ name: "follow", periodMs: 1_000 }],
} as unknown as PlantConfig; // only the fields the check reads

function health(cycles: number, evaluations: number, state = "running"): PlantHealth {
  return {
    state,
    storage: { cycles },
    loops: { follow: { evaluations } },
  } as unknown as PlantHealth; // only the fields the check reads
}

describe("plant liveness (what feeds the systemd watchdog)", () => {
  it("is alive while storage cycles and every loop evaluates, whatever the units do", () => {
    let now = 0;
    const check = createLivenessCheck(plant, { now: () => now, minStallMs: 5_000 });
    for (let s = 1; s <= 10; s++) {
      now = s * 1_000;
      // storage every 10 s, the loop every second
      expect(check(health(Math.floor(s / 10), s))).toEqual({ alive: true });
    }
  });

  it("is not alive once a control loop has taken no step for three periods (at least minStallMs)", () => {
    let now = 0;
    const check = createLivenessCheck(plant, { now: () => now, minStallMs: 5_000 });
    expect(check(health(0, 1)).alive).toBe(true);
    now = 5_000;
    expect(check(health(0, 1)).alive).toBe(true);
    now = 5_001;
    expect(check(health(0, 1))).toEqual({
      alive: false,
      reason: "control loop follow has taken no step for 5 s",
    });
    expect(check(health(0, 2)).alive).toBe(true); // it moved again
  });

  it("is not alive once storage has taken no cycle for three periods", () => {
    let now = 0;
    const check = createLivenessCheck(plant, { now: () => now, minStallMs: 5_000 });
    for (let s = 1; s <= 31; s++) {
      now = s * 1_000;
      const live = check(health(0, s));
      expect(live.alive).toBe(s <= 30);
      if (!live.alive) expect(live.reason).toBe("storage has taken no step for 31 s");
    }
  });

  it("is not alive when the plant machine has failed", () => {
    const check = createLivenessCheck(plant, { now: () => 0, minStallMs: 5_000 });
    expect(check(health(1, 1, "error"))).toEqual({ alive: false, reason: "the plant machine is error" });
  });
});
