import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { silentLog } from "../../../lib/log.ts";
import { plantMachine } from "../../../machines/plant.machine.ts";
import type { PlantDeps } from "../../../machines/plant-deps.ts";
import { plantView } from "../../../status/plant-view.ts";
import { createSinkRates } from "../../../status/sink-rates.ts";
import {
  advance,
  FakeLink,
  FakeSink,
  flush,
  linearTransform,
  linkError,
  MemorySpool,
  plantConfig,
  TestClock,
} from "../machines/fakes.ts";

describe("the status view of a plant", () => {
  it("shows since when each unit is in its state as wall-clock time (the machines keep it on the monotonic clock)", async () => {
    const simulated = new SimulatedClock();
    const wallStart = 1_700_000_000_000;
    const clock = new TestClock(simulated, wallStart);
    const links = new Map<string, FakeLink>();
    const spool = new MemorySpool();
    const plant = plantConfig();
    const deps: PlantDeps = {
      createLink: (unit) => {
        const link = new FakeLink(unit.name, clock);
        links.set(unit.name, link);
        return link;
      },
      transforms: new Map([["pemel_follows_meth", linearTransform]]),
      spool,
      sinks: [new FakeSink("historian")],
      clock,
      random: () => 0,
      log: silentLog(),
    };
    const actor = createActor(plantMachine, { clock: simulated, input: { plant, deps } });
    actor.start();
    await flush();
    await advance(simulated, 3000, 100);
    const pemel = links.get("PEMEL");
    if (pemel === undefined) throw new Error("no PEMEL link");
    pemel.connectScript = [linkError("PEMEL")];
    pemel.lose();
    await flush();
    const view = plantView(
      {
        plant,
        snapshot: () => actor.getSnapshot(),
        meters: new Map(),
        spool: { stats: () => spool.stats(), oldestPendingTime: () => null, path: "/nonexistent" },
      },
      createSinkRates({ windowMs: 10_000, lagLimitSeconds: 30 }),
      { wall: () => clock.wall(), monotonic: () => clock.monotonic() },
    );
    const byName = Object.fromEntries(view.units.map((u) => [u.name, u]));
    expect(byName.METH?.since).toBe(wallStart);
    expect(byName.PEMEL?.state).toBe("faulted");
    expect(byName.PEMEL?.since).toBe(wallStart + 3000);
    actor.stop();
  });
});
