import { describe, expect, it } from "vitest";
import type { Reading } from "../../../adapters/types.ts";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import { meterLink, readLatencyBuckets } from "../../../status/link-meter.ts";
import { FakeLink } from "../machines/fakes.ts";

function rig() {
  let mono = 0;
  const fake = new FakeLink("PEMEL", { monotonic: () => 1000, wall: () => 1000 });
  const { link, meter } = meterLink(fake, () => mono);
  return { fake, link, meter, setMono: (t: number) => (mono = t) };
}

describe("link meter (a UnitLink decorator)", () => {
  it("passes every call through and counts requests per operation", async () => {
    const { fake, link, meter } = rig();
    fake.values.set("current", 12);
    await link.connect();
    const readings = await link.read(["current"]);
    await link.write("setpoint", 20);
    expect(readings.get("current")?.value).toBe(12);
    expect(fake.writes.map((w) => w.value)).toEqual([20]);
    expect(meter.figures().requests).toEqual({ read: 1, write: 1, subscribe: 0, connect: 1 });
    expect(meter.figures().errors).toEqual({});
  });

  it("counts a rejection by its code and a read with bad values once per distinct code", async () => {
    const { fake, link, meter } = rig();
    fake.readHandler = async (tags) =>
      new Map(
        tags.map((t): [string, Reading] => [
          t,
          {
            value: null,
            quality: "bad",
            reason: "Modbus exception 4",
            code: ErrorCode.MODBUS_EXCEPTION,
            time: 1,
            receivedAt: 1,
          },
        ]),
      );
    await link.read(["a", "b", "c"]);
    fake.readHandler = undefined;
    fake.readFailure = new PlantbridgeError(ErrorCode.MODBUS_TIMEOUT, "no answer");
    await expect(link.read(["a"])).rejects.toThrow("no answer");
    fake.writeFailure = new PlantbridgeError(ErrorCode.MODBUS_EXCEPTION, "Modbus exception 4");
    await expect(link.write("setpoint", 1)).rejects.toThrow();
    expect(meter.figures().errors).toEqual({ PB_ERR_MODBUS_EXCEPTION: 2, PB_ERR_MODBUS_TIMEOUT: 1 });
    expect(meter.figures().requests.read).toBe(2);
  });

  it("puts each read's latency into its bucket, failed reads included", async () => {
    const { fake, link, meter, setMono } = rig();
    fake.readHandler = async (tags) => {
      setMono(3); // 3 ms later
      return fake.serve(tags);
    };
    setMono(0);
    await link.read(["current"]);
    fake.readHandler = async () => {
      setMono(3 + 20_000);
      throw new PlantbridgeError(ErrorCode.MODBUS_TIMEOUT, "late");
    };
    await expect(link.read(["current"])).rejects.toThrow();
    const latency = meter.figures().readLatency;
    expect(latency.count).toBe(2);
    expect(latency.sum).toBeCloseTo(20.003, 6);
    expect(latency.counts[readLatencyBuckets.indexOf(0.005)]).toBe(1);
    expect(latency.counts.at(-1)).toBe(1); // +Inf
  });

  it("notes when the unit last delivered a good value, read or pushed", async () => {
    const { fake, link, meter, setMono } = rig();
    expect(meter.figures().lastGoodAt).toBeNull();
    fake.values.set("current", 1);
    setMono(50);
    await link.read(["current"]);
    expect(meter.figures().lastGoodAt).toBe(50);
    const pushed: Reading[] = [];
    await link.subscribe?.(["h2_demand"], {
      reading: (_tag, r) => pushed.push(r),
      alive: () => {},
      ended: () => {},
    });
    setMono(80);
    fake.listener?.reading("h2_demand", { value: 3, quality: "good", time: 1, receivedAt: 1 });
    expect(pushed).toHaveLength(1);
    expect(meter.figures().lastGoodAt).toBe(80);
    expect(meter.figures().requests.subscribe).toBe(1);
  });
});
