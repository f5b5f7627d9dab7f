import { describe, expect, it } from "vitest";
import { SimulatedClock } from "xstate";
import type { Reading } from "../../../adapters/types.ts";
import { ErrorCode, isPlantbridgeError, PlantbridgeError } from "../../../lib/errors.ts";
import { FakeLink, linkError, methUnit, pemelUnit, TestClock } from "./fakes.ts";
import { createTestIO } from "./test-io.ts";

function setup() {
  const simulated = new SimulatedClock();
  simulated.set(1000);
  const clock = new TestClock(simulated);
  const t = createTestIO([pemelUnit(), methUnit("subscribe")], clock, 4000);
  const io = { ...t.io, attach: t.attach, detach: t.detach, push: t.push, alive: t.alive, image: t.image };
  const pemel = new FakeLink("PEMEL", clock);
  const meth = new FakeLink("METH", clock);
  return { io, pemel, meth, failures: t.linkFailures, simulated };
}

describe("tag I/O", () => {
  it("reads each unit with one link.read of its polled tags, units in parallel", async () => {
    const { io, pemel, meth } = setup();
    pemel.values.set("current", 37).set("power", 1200);
    meth.values.set("temperature", 38.5);
    let pemelStarted = false;
    let methStartedWhilePemelPending = false;
    pemel.readHandler = async (tags) => {
      pemelStarted = true;
      await new Promise((r) => setImmediate(r));
      return pemel.serve(tags);
    };
    meth.readHandler = async (tags) => {
      methStartedWhilePemelPending = pemelStarted;
      return meth.serve(tags);
    };
    io.attach("PEMEL", pemel);
    io.attach("METH", meth);
    const readings = await io.read([
      { unit: "PEMEL", tag: "current" },
      { unit: "METH", tag: "temperature" },
      { unit: "PEMEL", tag: "power" },
      { unit: "PEMEL", tag: "current" },
    ]);
    expect(pemel.readCalls.map((c) => c.tags)).toEqual([["current", "power"]]);
    expect(meth.readCalls.map((c) => c.tags)).toEqual([["temperature"]]);
    expect(methStartedWhilePemelPending).toBe(true);
    expect(readings.get("PEMEL.current")).toEqual({
      value: 37,
      quality: "good",
      time: 1000,
      receivedAt: 1000,
    });
    expect(readings.get("PEMEL.power")?.value).toBe(1200);
    expect(readings.get("METH.temperature")?.value).toBe(38.5);
  });

  it("gives bad readings naming the unit when it is not connected", async () => {
    const { io, pemel } = setup();
    const readings = await io.read([{ unit: "METH", tag: "temperature" }]);
    expect(readings.get("METH.temperature")).toEqual({
      value: null,
      quality: "bad",
      reason: "unit METH not connected",
      time: 1000,
      receivedAt: 1000,
    });
    io.attach("PEMEL", pemel);
    io.detach("PEMEL");
    const after = await io.read([{ unit: "PEMEL", tag: "current" }]);
    expect(after.get("PEMEL.current")?.reason).toBe("unit PEMEL not connected");
    expect(pemel.readCalls).toEqual([]);
  });

  it("turns a link-level rejection into bad readings with the message and reports the failure", async () => {
    const { io, pemel, failures } = setup();
    io.attach("PEMEL", pemel);
    pemel.readFailure = new PlantbridgeError(ErrorCode.MODBUS_TIMEOUT, "request timed out after 1000 ms", {
      unit: "PEMEL",
    });
    const readings = await io.read([
      { unit: "PEMEL", tag: "current" },
      { unit: "PEMEL", tag: "power" },
    ]);
    for (const tag of ["PEMEL.current", "PEMEL.power"]) {
      expect(readings.get(tag)).toMatchObject({ quality: "bad", value: null });
      expect(readings.get(tag)?.reason).toContain("request timed out after 1000 ms");
    }
    expect(failures).toHaveLength(1);
    expect(failures[0]?.unit).toBe("PEMEL");
    expect(failures[0]?.error.code).toBe(ErrorCode.MODBUS_TIMEOUT);
  });

  it("does not fault a fresh connection for a late failure of a read made on the previous one", async () => {
    const { io, pemel, failures } = setup();
    io.attach("PEMEL", pemel);
    let failLate: (e: unknown) => void = () => {};
    pemel.readHandler = () =>
      new Promise((_, reject) => {
        failLate = reject;
      });
    const pending = io.read([{ unit: "PEMEL", tag: "current" }]);
    // The connection faults and comes back with the same link object before the old read settles.
    io.detach("PEMEL");
    io.attach("PEMEL", pemel);
    failLate(new PlantbridgeError(ErrorCode.LINK_LOST, "socket closed", { unit: "PEMEL" }));
    const readings = await pending;
    expect(readings.get("PEMEL.current")).toMatchObject({ quality: "bad", value: null });
    expect(failures).toHaveLength(0);
    // A failure on the current connection is still reported.
    pemel.readHandler = undefined;
    pemel.readFailure = new PlantbridgeError(ErrorCode.LINK_LOST, "socket closed", { unit: "PEMEL" });
    await io.read([{ unit: "PEMEL", tag: "current" }]);
    expect(failures).toHaveLength(1);
  });

  it("wraps plain-object rejections into coded errors", async () => {
    const { io, pemel, failures } = setup();
    io.attach("PEMEL", pemel);
    pemel.readHandler = () => Promise.reject({ err: "Offline", message: "no connection to the device" });
    const readings = await io.read([{ unit: "PEMEL", tag: "current" }]);
    expect(readings.get("PEMEL.current")?.reason).toBe("no connection to the device");
    expect(failures[0]?.error).toBeInstanceOf(PlantbridgeError);
    expect(failures[0]?.error.origin.unit).toBe("PEMEL");
  });

  it("keeps per-tag bad readings from the unit and never drops a tag the unit did not answer", async () => {
    const { io, pemel, failures } = setup();
    io.attach("PEMEL", pemel);
    pemel.values.set("current", 12);
    pemel.badTags.set("power", "Modbus exception 2 (illegal data address)");
    const readings = await io.read([
      { unit: "PEMEL", tag: "current" },
      { unit: "PEMEL", tag: "power" },
      { unit: "PEMEL", tag: "cooling_reached" },
      { unit: "PEMEL", tag: "no_such_tag" },
    ]);
    expect(readings.get("PEMEL.current")?.quality).toBe("good");
    expect(readings.get("PEMEL.power")?.reason).toBe("Modbus exception 2 (illegal data address)");
    expect(readings.get("PEMEL.cooling_reached")?.reason).toBe("PEMEL returned no value for cooling_reached");
    expect(readings.get("PEMEL.no_such_tag")?.reason).toBe("unknown tag PEMEL.no_such_tag");
    expect(readings.size).toBe(4);
    expect(failures).toEqual([]);
  });

  it("serves subscribed tags from the latest pushed reading while attached", async () => {
    const { io, meth } = setup();
    expect(io.subscribedTags("METH")).toEqual(["h2_demand"]);
    expect(io.isSubscribed({ unit: "METH", tag: "h2_demand" })).toBe(true);
    expect(io.isSubscribed({ unit: "METH", tag: "temperature" })).toBe(false);
    io.attach("METH", meth);
    const before = await io.read([{ unit: "METH", tag: "h2_demand" }]);
    expect(before.get("METH.h2_demand")?.reason).toBe("no value pushed yet by METH.h2_demand");

    const pushed: Reading = { value: 21.5, quality: "good", time: 900, receivedAt: 900 };
    io.push("METH", "h2_demand", pushed);
    meth.values.set("temperature", 40);
    const readings = await io.read([
      { unit: "METH", tag: "h2_demand" },
      { unit: "METH", tag: "temperature" },
    ]);
    expect(readings.get("METH.h2_demand")).toEqual(pushed);
    expect(readings.get("METH.temperature")?.value).toBe(40);
    expect(meth.readCalls.map((c) => c.tags)).toEqual([["temperature"]]);

    io.detach("METH");
    io.attach("METH", meth);
    const afterReconnect = await io.read([{ unit: "METH", tag: "h2_demand" }]);
    expect(afterReconnect.get("METH.h2_demand")?.quality).toBe("bad");
  });

  it("keeps the last reading of every tag it handed out, bad ones with their reason", async () => {
    const { io, pemel, meth } = setup();
    expect(io.latest().size).toBe(0);
    pemel.values.set("current", 37);
    io.attach("PEMEL", pemel);
    io.attach("METH", meth);
    io.push("METH", "h2_demand", 21.5);
    await io.read([
      { unit: "PEMEL", tag: "current" },
      { unit: "METH", tag: "h2_demand" },
    ]);
    expect(io.latest().get("PEMEL.current")).toEqual({
      value: 37,
      quality: "good",
      time: 1000,
      receivedAt: 1000,
    });
    expect(io.latest().get("METH.h2_demand")?.value).toBe(21.5);
    io.detach("PEMEL");
    await io.read([{ unit: "PEMEL", tag: "current" }]);
    expect(io.latest().get("PEMEL.current")).toMatchObject({
      quality: "bad",
      reason: "unit PEMEL not connected",
    });
    expect(io.latest().has("PEMEL.power")).toBe(false);
  });

  it("serves a pushed value only while its subscription shows life", async () => {
    const { io, meth, simulated } = setup();
    io.attach("METH", meth);
    io.push("METH", "h2_demand", 21.5);
    simulated.increment(3000);
    io.alive("METH"); // a keep-alive at 4000: the value still stands
    simulated.increment(4000); // 8000: silent for 4000 ms, the limit
    expect((await io.read([{ unit: "METH", tag: "h2_demand" }])).get("METH.h2_demand")).toMatchObject({
      quality: "good",
      value: 21.5,
    });
    simulated.increment(1); // silent for longer than the limit: the subscription is dead
    const silent = (await io.read([{ unit: "METH", tag: "h2_demand" }])).get("METH.h2_demand");
    expect(silent).toMatchObject({ quality: "bad", value: null });
    expect(silent?.reason).toBe(
      "METH subscription silent for 4 s (no publish response or keep-alive; limit 4 s)",
    );
    io.alive("METH"); // life again: the last value is current (the server sends changes, there were none)
    expect((await io.read([{ unit: "METH", tag: "h2_demand" }])).get("METH.h2_demand")?.value).toBe(21.5);
    io.image("METH").active = false;
    io.image("METH").reason = "BadTooManySubscriptions";
    expect((await io.read([{ unit: "METH", tag: "h2_demand" }])).get("METH.h2_demand")?.reason).toBe(
      "METH subscription not running: BadTooManySubscriptions",
    );
  });

  it("treats a service-level refusal of a whole read as bad quality, not as a lost link", async () => {
    const { io, pemel, failures } = setup();
    io.attach("PEMEL", pemel);
    pemel.readFailure = new PlantbridgeError(
      ErrorCode.OPCUA_BAD_STATUS,
      "Read failed: BadTooManyOperations",
      {
        unit: "PEMEL",
      },
    );
    const readings = await io.read([{ unit: "PEMEL", tag: "current" }]);
    expect(readings.get("PEMEL.current")).toMatchObject({ quality: "bad" });
    expect(readings.get("PEMEL.current")?.reason).toContain("BadTooManyOperations");
    expect(failures).toEqual([]);
  });

  it("writes through the link within the tag's limits", async () => {
    const { io, pemel } = setup();
    io.attach("PEMEL", pemel);
    await io.write({ unit: "PEMEL", tag: "current_setpoint" }, 37);
    await io.write({ unit: "PEMEL", tag: "current_setpoint" }, 0);
    await io.write({ unit: "PEMEL", tag: "current_setpoint" }, 52);
    expect(pemel.writes.map((w) => w.value)).toEqual([37, 0, 52]);
  });

  it.each([
    ["a detached unit", "current_setpoint", 10, false, ErrorCode.NOT_CONNECTED],
    ["a read-only tag", "current", 10, true, ErrorCode.NOT_WRITABLE],
    ["an unknown tag", "nope", 10, true, ErrorCode.UNKNOWN_TAG],
    ["a value above the limit", "current_setpoint", 53, true, ErrorCode.OUT_OF_LIMITS],
    ["a value below the limit", "current_setpoint", -1, true, ErrorCode.OUT_OF_LIMITS],
    ["NaN", "current_setpoint", Number.NaN, true, ErrorCode.OUT_OF_LIMITS],
  ])("refuses %s before anything reaches the link", async (_, tag, value, attached, code) => {
    const { io, pemel } = setup();
    if (attached) io.attach("PEMEL", pemel);
    const error = await io.write({ unit: "PEMEL", tag }, value).catch((e: unknown) => e);
    expect(isPlantbridgeError(error, code)).toBe(true);
    expect((error as PlantbridgeError).origin).toMatchObject({ unit: "PEMEL", tag });
    expect(pemel.writes).toEqual([]);
  });

  it("reports a link-level write failure, but not a refusal about the value", async () => {
    const { io, pemel, failures } = setup();
    io.attach("PEMEL", pemel);
    pemel.writeFailure = new PlantbridgeError(ErrorCode.MODBUS_EXCEPTION, "exception 3 (illegal data value)");
    const refused = await io.write({ unit: "PEMEL", tag: "current_setpoint" }, 10).catch((e: unknown) => e);
    expect(isPlantbridgeError(refused, ErrorCode.MODBUS_EXCEPTION)).toBe(true);
    expect((refused as PlantbridgeError).origin).toMatchObject({ unit: "PEMEL", tag: "current_setpoint" });
    expect(failures).toEqual([]);

    pemel.writeFailure = linkError("PEMEL", "socket closed");
    const lost = await io.write({ unit: "PEMEL", tag: "current_setpoint" }, 10).catch((e: unknown) => e);
    expect(isPlantbridgeError(lost, ErrorCode.MODBUS_OFFLINE)).toBe(true);
    expect(failures.map((f) => f.unit)).toEqual(["PEMEL"]);
  });

  it("tells whether a unit is attached", () => {
    const { io, pemel } = setup();
    expect(io.isAttached("PEMEL")).toBe(false);
    io.attach("PEMEL", pemel);
    expect(io.isAttached("PEMEL")).toBe(true);
    io.detach("PEMEL");
    expect(io.isAttached("PEMEL")).toBe(false);
  });
});
