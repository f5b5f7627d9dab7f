import { describe, expect, it } from "vitest";
import { SimulatedClock } from "xstate";
import type { Log } from "../../../lib/log.ts";
import { silentLog } from "../../../lib/log.ts";
import { connectionMachine, connectionState } from "../../../machines/connection.machine.ts";
import { advance, captureLog, FakeLink, flush, linkError, TestClock, testReconnect } from "./fakes.ts";
import { startUnderParent } from "./under-parent.ts";

function startWithParent(
  link: FakeLink,
  clock: SimulatedClock,
  reconnect = testReconnect,
  random = () => 0,
  log: Log = silentLog(),
) {
  return startUnderParent(
    connectionMachine,
    { name: "PEMEL", link, reconnect, random, clock: new TestClock(clock), log },
    clock,
  );
}

function start(link: FakeLink, clock: SimulatedClock, reconnect = testReconnect, random = () => 0) {
  return startWithParent(link, clock, reconnect, random).child;
}

describe("connection machine", () => {
  it("waits in disconnected until CONNECT, then connects", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
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

  it("spaces failed attempts by the backoff table, capped, and forgives them once the link stayed up", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
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
      attempts: 6,
      faults: 6,
      reconnects: 0,
      connects: 1,
      since: 31_000,
    });
    expect(snapshot.context.lastError).toContain("connection refused");
    // The link is closed after every failed attempt before the next one.
    expect(link.closeCalls).toBe(6);
    // Up for stableAfter (10 s): the failures are forgiven, the next backoff starts from the beginning.
    await advance(clock, 900, 100);
    expect(actor.getSnapshot().context.attempts).toBe(6);
    await advance(clock, 100, 100);
    expect(actor.getSnapshot().context.attempts).toBe(0);
  });

  it("keeps backing off a link that drops again before it is stable (a flapping gateway)", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
    const actor = start(link, clock);
    actor.send({ type: "CONNECT" });
    await flush();
    // Connects every time, drops 200 ms later, six times.
    for (let i = 0; i < 6; i++) {
      await advance(clock, 200, 100);
      link.lose("connection reset by peer");
      await flush();
      while (actor.getSnapshot().value !== "connected") await advance(clock, 100, 100);
    }
    const gaps = link.connectCalls.slice(1).map((t, i) => t - (link.connectCalls[i] ?? 0) - 200);
    // Without the stable rule every gap would be the initial 1000 ms.
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(actor.getSnapshot().context.attempts).toBe(6);
  });

  it("logs an outage loudly but boundedly: warn at its start, every 5 min while it lasts, info when stable again", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
    link.connectScript = Array.from({ length: 60 }, () => linkError("PEMEL"));
    const captured = captureLog();
    const { child } = startWithParent(link, clock, testReconnect, () => 0, captured.log);
    child.send({ type: "CONNECT" });
    await advance(clock, 11 * 60_000, 1000);
    const warnings = captured.lines.filter((l) => l.level === 40 && l.unit === "PEMEL").map((l) => l.msg);
    // 60 failures over about 8 minutes: the first, then one after 5 minutes — not 60 lines.
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^PEMEL faulted: .*connection refused/);
    expect(warnings[1]).toMatch(/^PEMEL down for 5 min \d+ s \(\d+ failures\)/);
    expect(child.getSnapshot().value).toBe("connected");
    const infos = captured.lines.filter((l) => l.level === 30).map((l) => l.msg);
    expect(
      infos.some((m) => /^PEMEL stable again after \d+ min \d+ s with 60 failures: backoff reset$/.test(m)),
    ).toBe(true);
  });

  it("applies jitter from the injected random source", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
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
    const link = new FakeLink("PEMEL", new TestClock(clock));
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
    expect(snapshot.context).toMatchObject({ faults: 1, reconnects: 1, attempts: 1, since: 1500 });
    expect(link.listenerCount).toBe(1);
  });

  it("goes faulted on REPORT_FAILURE from a user of the link", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
    const actor = start(link, clock);
    actor.send({ type: "CONNECT" });
    await flush();
    actor.send({ type: "REPORT_FAILURE", error: linkError("PEMEL", "request timed out") });
    await flush();
    expect(connectionState(actor.getSnapshot().value)).toBe("faulted");
    expect(actor.getSnapshot().context.lastError).toContain("request timed out");
  });

  it("tells its parent when the unit connects and disconnects", async () => {
    const clock = new SimulatedClock();
    const link = new FakeLink("PEMEL", new TestClock(clock));
    const { child, received } = startWithParent(link, clock);
    child.send({ type: "CONNECT" });
    await flush();
    link.lose();
    await advance(clock, 1000, 100);
    expect(received).toEqual([
      { type: "UNIT_CONNECTED", name: "PEMEL" },
      { type: "UNIT_DISCONNECTED", name: "PEMEL" },
      { type: "UNIT_CONNECTED", name: "PEMEL" },
    ]);
  });

  it.each(["disconnected", "connecting", "connected", "faulted"] as const)(
    "SHUTDOWN from %s closes the link and reaches the final state closed",
    async (from) => {
      const clock = new SimulatedClock();
      const link = new FakeLink("PEMEL", new TestClock(clock));
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
    const link = new FakeLink("PEMEL", new TestClock(clock));
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
