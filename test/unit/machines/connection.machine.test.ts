import { describe, expect, it } from "vitest";
import { assign, createActor, SimulatedClock, setup } from "xstate";
import { silentLog } from "../../../lib/log.ts";
import { connectionMachine, connectionState } from "../../../machines/connection.machine.ts";
import { advance, FakeLink, flush, linkError, testReconnect } from "./fakes.ts";

function start(link: FakeLink, clock: SimulatedClock, reconnect = testReconnect, random = () => 0) {
  const actor = createActor(connectionMachine, {
    clock,
    input: { name: "PEMEL", link, reconnect, random, now: () => clock.now(), log: silentLog() },
  });
  actor.start();
  return actor;
}

describe("connection machine", () => {
  it("waits in disconnected until CONNECT, then connects", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", () => clock.now());
    const actor = start(link, clock);
    expect(actor.getSnapshot().value).toBe("disconnected");
    expect(link.connectCalls).toEqual([]);
    actor.send({ type: "CONNECT" });
    await flush();
    expect(actor.getSnapshot().value).toBe("connected");
    expect(actor.getSnapshot().context).toMatchObject({
      attempts: 0,
      faults: 0,
      reconnects: 0,
      lastError: null,
    });
  });

  it("spaces failed attempts by the backoff table, capped, and resets attempts on success", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", () => clock.now());
    link.connectScript = Array.from({ length: 6 }, () => linkError("PEMEL"));
    const actor = start(link, clock);
    actor.send({ type: "CONNECT" });
    await advance(clock, 40_000, 100);

    // 1000 · 2^(n−1), capped at 8000 ms (jitter 0).
    const gaps = link.connectCalls.slice(1).map((t, i) => t - (link.connectCalls[i] ?? 0));
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(link.connectCalls).toEqual([0, 1000, 3000, 7000, 15_000, 23_000, 31_000]);
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe("connected");
    expect(snapshot.context).toMatchObject({
      attempts: 0,
      faults: 6,
      reconnects: 0,
      connects: 1,
      since: 31_000,
    });
    expect(snapshot.context.lastError).toContain("connection refused");
    // The link is closed after every failed attempt before the next one.
    expect(link.closeCalls).toBe(6);
  });

  it("applies jitter from the injected random source", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", () => clock.now());
    link.connectScript = [linkError("PEMEL"), linkError("PEMEL")];
    const actor = start(link, clock, { ...testReconnect, jitter: 0.5 }, () => 0.5);
    actor.send({ type: "CONNECT" });
    await advance(clock, 5000, 50);
    // 1000·0.75 = 750, then 2000·0.75 = 1500.
    expect(link.connectCalls).toEqual([0, 750, 2250]);
    expect(actor.getSnapshot().value).toBe("connected");
  });

  it("goes faulted on LINK_LOST, closes the link, and reconnects after the backoff", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", () => clock.now());
    const actor = start(link, clock);
    actor.send({ type: "CONNECT" });
    await advance(clock, 500, 100);
    expect(link.listenerCount).toBe(1);

    link.lose("socket closed by peer");
    await flush();
    let snapshot = actor.getSnapshot();
    expect(connectionState(snapshot.value)).toBe("faulted");
    expect(snapshot.context).toMatchObject({ faults: 1, attempts: 1, since: 500, nextDelayMs: 1000 });
    expect(snapshot.context.lastError).toContain("socket closed by peer");
    expect(link.closeCalls).toBe(1);
    expect(link.listenerCount).toBe(0);

    await advance(clock, 900, 100);
    expect(connectionState(actor.getSnapshot().value)).toBe("faulted");
    await advance(clock, 100, 100);
    snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe("connected");
    expect(link.connectCalls).toEqual([0, 1500]);
    expect(snapshot.context).toMatchObject({ faults: 1, reconnects: 1, attempts: 0, since: 1500 });
    expect(link.listenerCount).toBe(1);
  });

  it("goes faulted on REPORT_FAILURE from a user of the link", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", () => clock.now());
    const actor = start(link, clock);
    actor.send({ type: "CONNECT" });
    await flush();
    actor.send({ type: "REPORT_FAILURE", error: linkError("PEMEL", "request timed out") });
    await flush();
    expect(connectionState(actor.getSnapshot().value)).toBe("faulted");
    expect(actor.getSnapshot().context.lastError).toContain("request timed out");
  });

  it("emits connected and disconnected, and tells its parent", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", () => clock.now());
    const parentMachine = setup({
      types: {
        context: {} as { notices: string[] },
        events: {} as { type: "UNIT_CONNECTED" | "UNIT_DISCONNECTED"; name: string },
      },
      actors: { connection: connectionMachine },
    }).createMachine({
      context: { notices: [] },
      invoke: {
        id: "unit",
        src: "connection",
        input: {
          name: "PEMEL",
          link,
          reconnect: testReconnect,
          random: () => 0,
          now: () => clock.now(),
          log: silentLog(),
        },
      },
      on: {
        UNIT_CONNECTED: {
          actions: assign({ notices: ({ context, event }) => [...context.notices, `up ${event.name}`] }),
        },
        UNIT_DISCONNECTED: {
          actions: assign({ notices: ({ context, event }) => [...context.notices, `down ${event.name}`] }),
        },
      },
    });
    const parent = createActor(parentMachine, { clock });
    parent.start();
    const child = parent.getSnapshot().children.unit;
    expect(child).toBeDefined();
    const emitted: string[] = [];
    child?.on("*", (e) => emitted.push(e.type));
    child?.send({ type: "CONNECT" });
    await flush();
    link.lose();
    await advance(clock, 1000, 100);
    expect(parent.getSnapshot().context.notices).toEqual(["up PEMEL", "down PEMEL", "up PEMEL"]);
    expect(emitted).toEqual(["connected", "disconnected", "connected"]);
  });

  it.each(["disconnected", "connecting", "connected", "faulted"] as const)(
    "SHUTDOWN from %s closes the link and reaches the final state closed",
    async (from) => {
      const clock = new SimulatedClock();
      const link = new FakeLink("PEMEL", () => clock.now());
      if (from === "faulted") link.connectScript = [linkError("PEMEL")];
      if (from === "connecting") link.connect = () => new Promise(() => {});
      const actor = start(link, clock);
      if (from !== "disconnected") actor.send({ type: "CONNECT" });
      await flush();
      expect(connectionState(actor.getSnapshot().value)).toBe(from);
      const closesBefore = link.closeCalls;
      actor.send({ type: "SHUTDOWN" });
      await flush();
      expect(actor.getSnapshot().value).toBe("closed");
      expect(actor.getSnapshot().status).toBe("done");
      expect(link.closeCalls).toBe(closesBefore + 1);
      // Nothing reconnects afterwards.
      await advance(clock, 20_000, 1000);
      expect(link.connectCalls.length).toBeLessThanOrEqual(1);
    },
  );

  it("reaches closed even when close() rejects", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", () => clock.now());
    link.close = async () => {
      throw linkError("PEMEL", "already closed");
    };
    const actor = start(link, clock);
    actor.send({ type: "CONNECT" });
    await flush();
    actor.send({ type: "SHUTDOWN" });
    await flush();
    expect(actor.getSnapshot().status).toBe("done");
  });
});
