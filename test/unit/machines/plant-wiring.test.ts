import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { silentLog } from "../../../lib/log.ts";
import { connectionMachine } from "../../../machines/connection.machine.ts";
import { inspectableContext } from "../../../machines/inspect-context.ts";
import { loopsFedBy, loopsWritingTo, storedTagInfos, transformFor } from "../../../machines/plant-wiring.ts";
import {
  FakeLink,
  followLoop,
  methUnit,
  pemelUnit,
  plantConfig,
  storageConfig,
  TestClock,
  testReconnect,
} from "./fakes.ts";

describe("plant wiring", () => {
  const pemel = pemelUnit();
  const plant = plantConfig({
    units: [
      {
        ...pemel,
        tags: pemel.tags.map((t) =>
          t.name === "current" ? { ...t, engineeringUnit: "A", description: "stack current" } : t,
        ),
      },
      methUnit(),
    ],
    control: [
      followLoop({ name: "on_change", onChange: true }),
      followLoop({ name: "periodic", onChange: false }),
      followLoop({ name: "other", onChange: true, output: { unit: "METH", tag: "x" } }),
    ],
    storage: storageConfig({
      tags: [
        { unit: "PEMEL", tag: "current" },
        { unit: "METH", tag: "temperature" },
        { unit: "PEMEL", tag: "current" },
      ],
    }),
  });

  it("finds the loops fed by a tag (on change only) and the loops writing to a unit", () => {
    expect(loopsFedBy(plant, "METH", "h2_demand")).toEqual(["on_change", "other"]);
    expect(loopsFedBy(plant, "METH", "temperature")).toEqual([]);
    expect(loopsWritingTo(plant, "PEMEL")).toEqual(["on_change", "periodic"]);
    expect(loopsWritingTo(plant, "METH")).toEqual(["other"]);
  });

  it("registers each stored tag once, with its unit, engineering unit and description", () => {
    expect(storedTagInfos(plant)).toEqual([
      { id: "PEMEL.current", unit: "PEMEL", engineeringUnit: "A", description: "stack current" },
      { id: "METH.temperature", unit: "METH" },
    ]);
  });

  it("gives a loop without a transform one that refuses every input with a config error", () => {
    const transform = transformFor(new Map(), "lost");
    const result = transform(12);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe("PB_ERR_CONFIG");
  });
});

describe("inspectableContext", () => {
  it("keeps figures and replaces injected things, functions and actors by labels", () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
    const actor = createActor(connectionMachine, {
      clock,
      input: {
        name: "PEMEL",
        link,
        reconnect: testReconnect,
        random: Math.random,
        clock: new TestClock(clock),
        log: silentLog(),
      },
    });
    const shown = inspectableContext({ ...actor.getSnapshot().context, units: { PEMEL: actor } }) as Record<
      string,
      unknown
    >;
    expect(shown).toMatchObject({
      name: "PEMEL",
      link: "[injected]",
      log: "[injected]",
      clock: "[injected]",
      random: "[function]",
      faults: 0,
      reconnect: testReconnect,
      units: { PEMEL: `[actor ${actor.id}]` },
    });
    expect(() => JSON.stringify(shown)).not.toThrow();
  });
});
