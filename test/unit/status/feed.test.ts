import { describe, expect, it } from "vitest";
import { assign, createActor, createMachine, setup } from "xstate";
import { createStateFeed, fanOutInspection, type StateChange } from "../../../status/feed.ts";

const child = createMachine({
  id: "connection",
  initial: "connecting",
  states: { connecting: { on: { UP: "connected" } }, connected: { on: { DOWN: "faulted" } }, faulted: {} },
});

const parent = setup({ actors: { child } }).createMachine({
  id: "plant",
  context: { ticks: 0 },
  initial: "running",
  invoke: { id: "unit:PEMEL", src: "child" },
  states: {
    running: {
      on: {
        TICK: { actions: assign({ ticks: ({ context }) => context.ticks + 1 }) },
        STOP: "stopped",
      },
    },
    stopped: { type: "final" },
  },
});

describe("state feed (from XState inspection events)", () => {
  it("gives every state change of every machine actor once, in order, and ignores context-only snapshots", () => {
    const feed = createStateFeed(() => 1000);
    const changes: StateChange[] = [];
    feed.subscribe((c) => changes.push(c));
    const seen: string[] = [];
    const actor = createActor(parent, {
      inspect: fanOutInspection(feed.inspect, { next: (e) => seen.push(e.type) }),
    });
    actor.start();
    const unit = actor.getSnapshot().children["unit:PEMEL"];
    actor.send({ type: "TICK" });
    actor.send({ type: "TICK" });
    unit?.send({ type: "UP" });
    unit?.send({ type: "DOWN" });
    actor.send({ type: "STOP" });

    expect(seen.length).toBeGreaterThan(changes.length); // the other observer got every event too
    expect(changes.map((c) => c.seq)).toEqual(changes.map((_, i) => i + 1));
    expect(changes.map((c) => [c.actor, c.machine, c.value, c.status])).toEqual([
      ["unit:PEMEL", "connection", "connecting", "active"],
      ["plant", "plant", "running", "active"],
      ["unit:PEMEL", "connection", "connected", "active"],
      ["unit:PEMEL", "connection", "faulted", "active"],
      ["unit:PEMEL", "connection", "faulted", "stopped"],
      ["plant", "plant", "stopped", "done"],
    ]);
    expect(changes.find((c) => c.value === "connected")?.event).toBe("UP");
    expect(feed.lastSeq()).toBe(changes.length);
    expect(JSON.stringify(changes)).not.toContain("ticks");
  });
});
