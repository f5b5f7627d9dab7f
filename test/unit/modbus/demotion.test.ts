import { describe, expect, it } from "vitest";
import {
  admit,
  answering,
  type DemotionPolicy,
  type DemotionState,
  demotionPeriod,
  forgiveTimeout,
  isSuspended,
  noteAnswer,
  noteTimeout,
} from "../../../adapters/modbus/demotion.ts";

const policy: DemotionPolicy = { after: 3, periodMs: 10_000, maxPeriodMs: 60_000 };

/** One step of a unit's life on a shared connection, at a monotonic time. */
type Step =
  | { at: number; event: "timeout"; demoted: boolean }
  | { at: number; event: "answer"; restored: boolean }
  | { at: number; event: "admit"; expect: "send" | "probe" | "refuse" }
  | { at: number; event: "forgive" };

function play(steps: readonly Step[], start: DemotionState = answering): DemotionState {
  let state = start;
  for (const step of steps) {
    const where = `${step.event} at ${step.at}`;
    switch (step.event) {
      case "timeout": {
        const next = noteTimeout(state, step.at, policy);
        expect(next.demoted, where).toBe(step.demoted);
        state = next.state;
        break;
      }
      case "answer": {
        const next = noteAnswer(state);
        expect(next.restored, where).toBe(step.restored);
        state = next.state;
        break;
      }
      case "admit": {
        const a = admit(state, step.at);
        const got = a.kind === "refuse" ? "refuse" : a.probe ? "probe" : "send";
        expect(got, where).toBe(step.expect);
        break;
      }
      case "forgive":
        state = forgiveTimeout(state);
        break;
    }
  }
  return state;
}

describe("demotion of a unit id on a shared connection", () => {
  it.each([
    { n: 1, period: 10_000 },
    { n: 2, period: 20_000 },
    { n: 3, period: 40_000 },
    { n: 4, period: 60_000 },
    { n: 9, period: 60_000 },
  ])(
    "the demotion period doubles from the first and stops at the cap: demotion $n lasts $period ms",
    ({ n, period }) => {
      expect(demotionPeriod(policy, n)).toBe(period);
    },
  );

  const cases: { name: string; steps: Step[]; final: Partial<DemotionState> }[] = [
    {
      name: "timeouts below the limit only count",
      steps: [
        { at: 0, event: "timeout", demoted: false },
        { at: 1, event: "timeout", demoted: false },
        { at: 2, event: "admit", expect: "send" },
      ],
      final: { timeoutsInARow: 2, demotions: 0, demotedUntil: null },
    },
    {
      name: "an answer between timeouts starts the count again",
      steps: [
        { at: 0, event: "timeout", demoted: false },
        { at: 1, event: "timeout", demoted: false },
        { at: 2, event: "answer", restored: false },
        { at: 3, event: "timeout", demoted: false },
        { at: 4, event: "timeout", demoted: false },
        { at: 5, event: "admit", expect: "send" },
      ],
      final: { timeoutsInARow: 2, demotions: 0 },
    },
    {
      name: "the third timeout in a row demotes; requests are refused for the period, then one probes",
      steps: [
        { at: 0, event: "timeout", demoted: false },
        { at: 1, event: "timeout", demoted: false },
        { at: 2, event: "timeout", demoted: true },
        { at: 3, event: "admit", expect: "refuse" },
        { at: 10_001, event: "admit", expect: "refuse" },
        { at: 10_002, event: "admit", expect: "probe" },
      ],
      final: { timeoutsInARow: 3, demotions: 1, demotedUntil: 10_002, periodMs: 10_000 },
    },
    {
      name: "a probe that times out demotes again at once, for twice as long",
      steps: [
        { at: 0, event: "timeout", demoted: false },
        { at: 0, event: "timeout", demoted: false },
        { at: 0, event: "timeout", demoted: true },
        { at: 10_000, event: "admit", expect: "probe" },
        { at: 10_500, event: "timeout", demoted: true },
        { at: 30_499, event: "admit", expect: "refuse" },
        { at: 30_500, event: "admit", expect: "probe" },
        { at: 31_000, event: "timeout", demoted: true },
        { at: 71_000, event: "admit", expect: "probe" },
        { at: 71_000, event: "timeout", demoted: true },
      ],
      final: { demotions: 4, periodMs: 60_000, demotedUntil: 131_000 },
    },
    {
      name: "a probe that is answered restores the unit completely",
      steps: [
        { at: 0, event: "timeout", demoted: false },
        { at: 0, event: "timeout", demoted: false },
        { at: 0, event: "timeout", demoted: true },
        { at: 10_000, event: "admit", expect: "probe" },
        { at: 10_001, event: "answer", restored: true },
        { at: 10_002, event: "admit", expect: "send" },
        { at: 10_003, event: "timeout", demoted: false },
      ],
      final: { timeoutsInARow: 1, demotions: 0, demotedUntil: null },
    },
    {
      name: "a timeout forgiven (the connection's fault) does not count",
      steps: [
        { at: 0, event: "timeout", demoted: false },
        { at: 1, event: "timeout", demoted: false },
        { at: 2, event: "forgive" },
        { at: 3, event: "timeout", demoted: false },
        { at: 4, event: "timeout", demoted: true },
      ],
      final: { timeoutsInARow: 3, demotions: 1 },
    },
    {
      name: "forgiving leaves a demotion in force",
      steps: [
        { at: 0, event: "timeout", demoted: false },
        { at: 0, event: "timeout", demoted: false },
        { at: 0, event: "timeout", demoted: true },
        { at: 1, event: "forgive" },
        { at: 2, event: "admit", expect: "refuse" },
      ],
      final: { timeoutsInARow: 3, demotions: 1, demotedUntil: 10_000 },
    },
  ];

  it.each(cases)("$name", ({ steps, final }) => {
    expect(play(steps)).toMatchObject(final);
  });

  it("a refusal names the period and the timeouts, and how long is left", () => {
    const state = play([
      { at: 0, event: "timeout", demoted: false },
      { at: 0, event: "timeout", demoted: false },
      { at: 0, event: "timeout", demoted: true },
    ]);
    expect(admit(state, 2_500)).toEqual({
      kind: "refuse",
      remainingMs: 7_500,
      reason: "demoted for 10 s after 3 timeouts in a row",
    });
    expect(isSuspended(state)).toBe(true);
    expect(isSuspended(answering)).toBe(false);
  });

  it("demotes after one timeout when the policy says so", () => {
    const next = noteTimeout(answering, 5, { after: 1, periodMs: 1500, maxPeriodMs: 1500 });
    expect(next).toEqual({
      demoted: true,
      state: { timeoutsInARow: 1, demotions: 1, demotedUntil: 1505, periodMs: 1500 },
    });
    expect(admit(next.state, 6)).toMatchObject({
      kind: "refuse",
      reason: "demoted for 1.5 s after 1 timeout",
    });
  });
});
