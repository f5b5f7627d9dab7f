import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../lib/errors.ts";
import type { PemelSimulator } from "../../../simulators/pemel/index.ts";
import { pemelTags, tag } from "../../unit/modbus/fixtures.ts";
import { linkTo, outcome, startSimulator, type TestLink, unitFor } from "./harness.ts";

const tags = [
  ...pemelTags(),
  tag("cooler_valve_setpoint", 0x1000, "uint16", { scale: 0.1, writable: { min: 0, max: 10_000 } }),
  tag("inlet_temperature_input", 0x0004, "uint16", { area: "input", writable: { min: 0, max: 100 } }),
  tag("door_closed", 0x0004, "bool", { area: "discrete", writable: { min: 0, max: 1 } }),
  tag("ready_bit", 0x1001, "bit", { bit: 3, writable: { min: 0, max: 1 } }),
];

// Refused alike on a connection of its own and on a shared one (the checks are unit-tags.ts's).
describe.each(["separate", "shared"] as const)("%s connection", (connection) => {
  let sim: PemelSimulator;
  let link: TestLink["link"];

  beforeAll(async () => {
    sim = await startSimulator();
    link = linkTo(unitFor(sim, { tags, connection })).link;
    await link.connect();
  });

  afterAll(async () => {
    await link.close();
    await sim.stop();
  });

  describe("writes refused before anything is sent", () => {
    it.each([
      ["an unknown tag", "no_such_tag", 1, ErrorCode.UNKNOWN_TAG],
      ["a read-only tag", "power", 100, ErrorCode.NOT_WRITABLE],
      ["a status bit", "valve_on", true, ErrorCode.NOT_WRITABLE],
      ["an input register, even if declared writable", "inlet_temperature_input", 1, ErrorCode.NOT_WRITABLE],
      ["a discrete input, even if declared writable", "door_closed", true, ErrorCode.NOT_WRITABLE],
      ["a single bit of a register", "ready_bit", true, ErrorCode.UNSUPPORTED],
      ["above the limit", "current_setpoint", 53, ErrorCode.OUT_OF_LIMITS],
      ["below the limit", "current_setpoint", -1, ErrorCode.OUT_OF_LIMITS],
      ["NaN", "current_setpoint", Number.NaN, ErrorCode.OUT_OF_LIMITS],
      ["Infinity", "current_setpoint", Number.POSITIVE_INFINITY, ErrorCode.OUT_OF_LIMITS],
      ["a boolean for a number", "current_setpoint", true, ErrorCode.BAD_INPUT],
      [
        "within limits but beyond the raw type after scaling",
        "cooler_valve_setpoint",
        7000,
        ErrorCode.OUT_OF_LIMITS,
      ],
    ] as const)("%s", async (_what, name, value, code) => {
      const before = { writes: sim.served.writeCount, all: sim.served.registerWriteCount };
      expect(await outcome(link.write(name, value))).toBe(code);
      expect(sim.served.writeCount).toBe(before.writes);
      expect(sim.served.registerWriteCount).toBe(before.all);
    });

    it("the set point log stays empty after refused writes; an allowed one is written exactly once", async () => {
      expect(sim.served.writes).toHaveLength(0);
      await link.write("current_setpoint", 52);
      expect(sim.served.writes.map((w) => w.value)).toEqual([52]);
    });

    it("the refusal names unit and tag", async () => {
      try {
        await link.write("current_setpoint", 99);
        expect.unreachable();
      } catch (e) {
        expect(e).toMatchObject({
          code: ErrorCode.OUT_OF_LIMITS,
          origin: { unit: "PEMEL", tag: "current_setpoint" },
        });
      }
    });
  });
});
