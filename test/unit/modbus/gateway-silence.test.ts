import { describe, expect, it } from "vitest";
import { createSilenceWatch } from "../../../adapters/modbus/gateway-silence.ts";

/** Each step: a unit timed out (its name), or `heard` (a frame arrived); `dead` = what the watch said. */
type Step = { timeout: string; dead: boolean } | "heard";

describe("a shared connection taken as dead", () => {
  it.each<{ name: string; members: string[]; suspended?: string[]; steps: Step[] }>([
    {
      name: "one silent unit beside units that answer: never",
      members: ["A", "B", "DEAD"],
      steps: [{ timeout: "DEAD", dead: false }, "heard", { timeout: "DEAD", dead: false }, "heard"],
    },
    {
      name: "every unit silent since the last frame: dead",
      members: ["A", "B"],
      steps: [
        { timeout: "A", dead: false },
        { timeout: "A", dead: false },
        { timeout: "B", dead: true },
      ],
    },
    {
      name: "a frame between the timeouts starts over",
      members: ["A", "B"],
      steps: [{ timeout: "A", dead: false }, "heard", { timeout: "B", dead: false }],
    },
    {
      name: "a unit alone: its first timeout",
      members: ["A"],
      steps: [{ timeout: "A", dead: true }],
    },
    {
      name: "demoted units do not count: the one unit in good standing timing out is enough",
      members: ["A", "DEAD1", "DEAD2"],
      suspended: ["DEAD1", "DEAD2"],
      steps: [{ timeout: "A", dead: true }],
    },
    {
      name: "a unit that never sent and never timed out keeps the connection alive",
      members: ["A", "B", "IDLE"],
      steps: [
        { timeout: "A", dead: false },
        { timeout: "B", dead: false },
        { timeout: "A", dead: false },
      ],
    },
  ])("$name", ({ members, suspended = [], steps }) => {
    const watch = createSilenceWatch<string>();
    const inGoodStanding = (m: string) => !suspended.includes(m);
    for (const [i, step] of steps.entries()) {
      if (step === "heard") {
        watch.heard();
        expect(watch.streak).toEqual([]);
      } else expect(watch.timedOut(step.timeout, members, inGoodStanding), `step ${i}`).toBe(step.dead);
    }
  });

  it("keeps the streak in order, a unit once per timeout (what is forgiven when the connection dies)", () => {
    const watch = createSilenceWatch<string>();
    watch.timedOut("A", ["A", "B"], () => true);
    watch.timedOut("A", ["A", "B"], () => true);
    expect(watch.timedOut("B", ["A", "B"], () => true)).toBe(true);
    expect(watch.streak).toEqual(["A", "A", "B"]);
  });
});
