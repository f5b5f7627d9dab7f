import { describe, expect, it } from "vitest";
import type { Reading } from "../../../adapters/types.ts";
import { decideControl, describeDecision, initialLoopMemory } from "../../../machines/control-decision.ts";
import type { LoopMemory } from "../../../machines/control-types.ts";
import { followLoop, linearTransform } from "./fakes.ts";

const loop = followLoop({ staleAfterMs: 5000, failSafe: { afterMs: 5000, value: 0 } });
// `receivedAt` (monotonic) is what ages count from; `time` (the unit's wall clock) never matters.
const good = (value: number | boolean, receivedAt = 10_000): Reading => ({
  value,
  quality: "good",
  time: 0,
  receivedAt,
});
const bad = (reason: string): Reading => ({
  value: null,
  quality: "bad",
  reason,
  time: 0,
  receivedAt: 10_000,
});
const polled = (reading: Reading | undefined) => ({ reading, subscribed: false });

describe("decideControl", () => {
  it.each([
    ["follows a good, fresh demand when permissive is on", good(20.4), good(true), "follow", 20],
    ["caps through the transform", good(80), good(true), "follow", 52],
    ["accepts a non-zero number as permissive", good(12), good(1), "follow", 12],
    ["stays off when the permissive is false", good(20), good(false), "permissive-off", undefined],
    ["stays off when the permissive is bad", good(20), bad("exception 2"), "permissive-off", undefined],
    ["stays off when the permissive was not read", good(20), undefined, "permissive-off", undefined],
    ["holds on a bad input", bad("unit METH not connected"), good(true), "hold", undefined],
    ["holds on a stale input", good(20, 4999), good(true), "hold", undefined],
    ["holds on NaN (the transform refuses it)", good(Number.NaN), good(true), "hold", undefined],
    ["holds on a boolean input", good(true), good(true), "hold", undefined],
  ] as const)("%s", (_, input, permissive, kind, value) => {
    const result = decideControl(
      loop,
      linearTransform,
      polled(input),
      polled(permissive),
      initialLoopMemory,
      10_000,
    );
    expect(result.decision.kind).toBe(kind);
    if (value !== undefined) expect(result.decision).toMatchObject({ value });
  });

  it("accepts an old reading of a subscribed input (pushed on change only)", () => {
    const input = { reading: good(20, 0), subscribed: true };
    const result = decideControl(
      loop,
      linearTransform,
      input,
      polled(good(true, 60_000)),
      initialLoopMemory,
      60_000,
    );
    expect(result.decision).toMatchObject({ kind: "follow", value: 20 });
  });

  it("accepts a reading exactly staleAfterMs old and refuses one a millisecond older", () => {
    const fresh = decideControl(
      loop,
      linearTransform,
      polled(good(20, 5000)),
      polled(good(true)),
      initialLoopMemory,
      10_000,
    );
    const stale = decideControl(
      loop,
      linearTransform,
      polled(good(20, 4999)),
      polled(good(true)),
      initialLoopMemory,
      10_000,
    );
    expect(fresh.decision.kind).toBe("follow");
    expect(stale.decision.kind).toBe("hold");
    expect(stale.decision.kind === "hold" && stale.decision.reason).toContain("stale (5001 ms old)");
  });

  it("runs the fail-safe timer from the first bad evaluation and holds it until the input is good", () => {
    let memory: LoopMemory = initialLoopMemory;
    const kinds: string[] = [];
    for (const now of [1000, 2000, 5999, 6000, 7000]) {
      const r = decideControl(loop, linearTransform, polled(bad("timeout")), polled(good(true)), memory, now);
      memory = r.memory;
      kinds.push(r.decision.kind);
    }
    expect(kinds).toEqual(["hold", "hold", "hold", "fail-safe", "fail-safe"]);
    expect(memory).toMatchObject({ badSince: 1000, failSafeActive: true });
    const back = decideControl(
      loop,
      linearTransform,
      polled(good(30, 8000)),
      polled(good(true)),
      memory,
      8000,
    );
    expect(back.decision).toMatchObject({ kind: "follow", value: 30 });
    expect(back.memory).toEqual({
      badSince: null,
      failSafeActive: false,
      transformFailing: false,
      followed: { kind: "follow", value: 30, input: 30, rule: "curve", clamped: false },
    });
  });

  it("keeps the set point while the input moves less than the deadband from the one it follows", () => {
    const banded = followLoop({ deadband: 0.5 });
    let memory: LoopMemory = initialLoopMemory;
    const values: number[] = [];
    // 20.4 → 20, then drifts by less than 0.5 from 20.4 (rounding alone would give 21 at 20.6).
    for (const demand of [20.4, 20.6, 20.8, 20.1, 20.95, 21.6]) {
      const result = decideControl(
        banded,
        linearTransform,
        polled(good(demand)),
        polled(good(true)),
        memory,
        10_000,
      );
      memory = result.memory;
      values.push(result.decision.kind === "follow" ? result.decision.value : -1);
    }
    // 20.95 is 0.55 from 20.4: followed (21); 21.6 is 0.65 from 20.95: followed (22).
    expect(values).toEqual([20, 20, 20, 20, 21, 22]);
    // Without a deadband every change counts.
    const plain = [20.4, 20.6].map(
      (d) =>
        decideControl(loop, linearTransform, polled(good(d)), polled(good(true)), initialLoopMemory, 10_000)
          .decision,
    );
    expect(plain.map((d) => (d.kind === "follow" ? d.value : -1))).toEqual([20, 21]);
  });

  it("goes to the fail-safe even while the permissive is off", () => {
    const memory = { ...initialLoopMemory, badSince: 0 };
    const r = decideControl(loop, linearTransform, polled(bad("gone")), polled(good(false)), memory, 5000);
    expect(r.decision).toMatchObject({ kind: "fail-safe", value: 0 });
  });

  it("counts transform refusals as bad input and reports the refusal", () => {
    const r = decideControl(
      loop,
      linearTransform,
      polled(good(Number.POSITIVE_INFINITY)),
      polled(good(true)),
      initialLoopMemory,
      10_000,
    );
    expect(r.decision.kind).toBe("hold");
    expect(r.transformError).toContain("not finite");
    expect(r.memory).toMatchObject({ badSince: 10_000, transformFailing: true });
  });

  it("survives a transform that throws or returns a non-finite value", () => {
    const throwing = () => {
      throw new Error("curve missing");
    };
    const r1 = decideControl(loop, throwing, polled(good(5)), polled(good(true)), initialLoopMemory, 10_000);
    expect(r1.transformError).toBe("curve missing");
    const infinite = () => ({ ok: true as const, value: Number.NaN, rule: "curve", clamped: false });
    const r2 = decideControl(loop, infinite, polled(good(5)), polled(good(true)), initialLoopMemory, 10_000);
    expect(r2.decision.kind).toBe("hold");
  });

  it("needs no permissive when the loop has none", () => {
    const free = followLoop({ permissive: undefined });
    const r = decideControl(free, linearTransform, polled(good(7)), undefined, initialLoopMemory, 10_000);
    expect(r.decision).toMatchObject({ kind: "follow", value: 7 });
  });
});

describe("describeDecision", () => {
  it("names input, output and value in plant words", () => {
    expect(
      describeDecision(loop, { kind: "follow", value: 37, input: 12.3, rule: "curve", clamped: false }),
    ).toBe("following METH.h2_demand 12.3 → PEMEL.current_setpoint 37");
    expect(
      describeDecision(loop, { kind: "fail-safe", value: 0, reason: "METH.h2_demand bad: timeout" }, 10_000),
    ).toBe("fail-safe PEMEL.current_setpoint 0 (input unusable for 10 s: METH.h2_demand bad: timeout)");
    expect(describeDecision(loop, { kind: "permissive-off", reason: "PEMEL.cooling_reached is off" })).toBe(
      "permissive off (PEMEL.cooling_reached is off)",
    );
  });
});
