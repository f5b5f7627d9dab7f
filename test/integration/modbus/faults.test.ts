import { createServer, Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../lib/errors.ts";
import type { PemelSimulator } from "../../../simulators/pemel/index.ts";
import { pemelTags } from "../../unit/modbus/fixtures.ts";
import { eventually, linkTo, outcome, startSimulator, type TestLink, unitFor } from "./harness.ts";

let sim: PemelSimulator;
const links: TestLink[] = [];
const allTags = pemelTags().map((t) => t.name);

function open(extra: Parameters<typeof unitFor>[1] = {}): TestLink {
  const l = linkTo(unitFor(sim, { timeoutMs: 2000, ...extra }));
  links.push(l);
  return l;
}

beforeAll(async () => {
  sim = await startSimulator();
});

afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.link.close()));
  // the unit sees a closed connection a moment after the link does; single-connection mode depends on it
  await eventually(() => sim.connections() === 0);
  sim.clearFaults();
  await sim.ready();
});

afterAll(async () => {
  await sim.stop();
});

describe("Modbus exceptions: bad quality with a reason, the link stays up", () => {
  it.each([
    [2, "Modbus exception 2 (illegal data address)"],
    [4, "Modbus exception 4 (server device failure)"],
    [6, "Modbus exception 6 (server device busy)"],
  ] as const)("exception %i", async (code, reason) => {
    const { link, lost } = open();
    await link.connect();
    sim.setFault({ kind: "exception", code });
    const readings = await link.read(allTags);
    expect(readings.size).toBe(allTags.length);
    for (const [, r] of readings) expect(r).toMatchObject({ value: null, quality: "bad", reason });
    expect(await outcome(link.write("current_setpoint", 10))).toBe(ErrorCode.MODBUS_EXCEPTION);
    sim.clearFault("exception");
    expect((await link.read(["power"])).get("power")?.quality).toBe("good");
    expect(lost).toHaveLength(0);
  });

  it("an exception limited to an address range spoils only the tags of that request", async () => {
    const { link, lost } = open();
    await link.connect();
    sim.setFault({ kind: "exception", code: 2, addresses: [0x8065, 0x8072] });
    const readings = await link.read(allTags);
    expect(readings.get("current_setpoint")?.quality).toBe("good");
    // the status word and the values share one request (gap bridged), so both are bad
    expect(readings.get("valve_on")?.quality).toBe("bad");
    expect(readings.get("power")?.reason).toBe("Modbus exception 2 (illegal data address)");
    expect(lost).toHaveLength(0);
  });

  it("writing PEMEL's computed registers is refused by the unit with exception 2", async () => {
    const { link } = open({
      tags: [{ ...pemelTags().find((t) => t.name === "power")!, writable: { min: 0, max: 10_000 } }],
    });
    await link.connect();
    expect(await outcome(link.write("power", 5))).toBe(ErrorCode.MODBUS_EXCEPTION);
  });
});

describe("a unit that stops answering", () => {
  it("read rejects with PB_ERR_MODBUS_TIMEOUT, queued reads reject too, lost fires once", async () => {
    const { link, lost, nextLost } = open({ timeoutMs: 500 });
    await link.connect();
    sim.setFault({ kind: "stop-answering" });
    const lostEvent = nextLost();
    const reads = [link.read(allTags), link.read(["power"]), link.read(["current"])];
    const outcomes = await Promise.all(reads.map(outcome));
    expect(outcomes).toEqual([ErrorCode.MODBUS_TIMEOUT, ErrorCode.MODBUS_TIMEOUT, ErrorCode.MODBUS_TIMEOUT]);
    expect((await lostEvent).code).toBe(ErrorCode.MODBUS_TIMEOUT);
    expect(await outcome(link.read(["power"]))).toBe(ErrorCode.NOT_CONNECTED);
    await link.close();
    expect(lost).toHaveLength(1);
    expect(sim.served.unansweredCount).toBeGreaterThanOrEqual(1);
  });

  it("after the timeout the socket is gone: no late reply reaches a later request", async () => {
    const { link } = open({ timeoutMs: 500 });
    await link.connect();
    await link.write("current_setpoint", 12);
    sim.setFault({ kind: "stop-answering" });
    expect(await outcome(link.read(["current_setpoint"]))).toBe(ErrorCode.MODBUS_TIMEOUT);
    await eventually(() => sim.connections() === 0);
    sim.clearFault("stop-answering");
    await link.close();
    await link.connect();
    await link.write("current_setpoint", 13);
    expect((await link.read(["current_setpoint"])).get("current_setpoint")?.value).toBe(13);
  });
});

describe("connections dropped, refused, restarted", () => {
  it("drop-connections: lost fires with PB_ERR_LINK_LOST; close() + connect() reads again", async () => {
    const { link, lost, nextLost } = open();
    await link.connect();
    const lostEvent = nextLost();
    sim.setFault({ kind: "drop-connections" });
    expect((await lostEvent).code).toBe(ErrorCode.LINK_LOST);
    expect(await outcome(link.read(["power"]))).toBe(ErrorCode.NOT_CONNECTED);
    await link.close();
    await link.connect();
    expect((await link.read(["power"])).get("power")?.quality).toBe("good");
    expect(lost).toHaveLength(1);
  });

  it("refuse-connections: connect rejects with PB_ERR_MODBUS_OFFLINE until cleared; open links stay", async () => {
    const first = open();
    await first.link.connect();
    sim.setFault({ kind: "refuse-connections" });
    const second = open();
    expect(await outcome(second.link.connect())).toBe(ErrorCode.MODBUS_OFFLINE);
    expect((await first.link.read(["power"])).get("power")?.quality).toBe("good");
    sim.clearFault("refuse-connections");
    await sim.ready();
    await second.link.connect();
    expect((await second.link.read(["power"])).get("power")?.quality).toBe("good");
  });

  it("restart(): links are lost, the unit listens again on the same port and keeps its state", async () => {
    const { link, nextLost } = open();
    await link.connect();
    await link.write("current_setpoint", 25);
    const port = sim.port;
    const lostEvent = nextLost();
    await sim.restart();
    expect((await lostEvent).code).toBe(ErrorCode.LINK_LOST);
    expect(sim.port).toBe(port);
    await link.close();
    await link.connect();
    expect((await link.read(["current_setpoint"])).get("current_setpoint")?.value).toBe(25);
  });
});

describe("single-connection mode", () => {
  it("a second link cannot connect while the first holds the unit; it can once the first lets go", async () => {
    sim.setFault({ kind: "single-connection" });
    const first = open();
    await first.link.connect();
    await eventually(() => sim.connections() === 1);
    const second = open();
    expect(await outcome(second.link.connect())).toBe(ErrorCode.MODBUS_OFFLINE);
    expect((await first.link.read(["power"])).get("power")?.quality).toBe("good");
    await first.link.close();
    await eventually(() => sim.connections() === 0);
    await sim.ready();
    await second.link.connect();
    expect((await second.link.read(["power"])).get("power")?.quality).toBe("good");
  });

  it("the link's queue keeps one transaction in flight: 50 parallel reads, none refused as busy", async () => {
    sim.setFault({ kind: "single-connection" });
    const { link } = open();
    await link.connect();
    const exceptionsBefore = sim.served.exceptionCount;
    const results = await Promise.all(Array.from({ length: 50 }, () => link.read(allTags)));
    for (const readings of results) {
      for (const [, r] of readings) expect(r.quality).toBe("good");
    }
    expect(sim.served.exceptionCount).toBe(exceptionsBefore);
  });

  it("a client that pipelines gets exception 6 (busy) for the request behind the first", async () => {
    sim.setFault({ kind: "single-connection" });
    const socket = new Socket();
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect({ host: "127.0.0.1", port: sim.port }, resolve);
    });
    const request = (id: number) => Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 6, 0, 3, 0x80, 0x61, 0, 1]);
    const replies: Buffer[] = [];
    const got = new Promise<void>((resolve) => {
      let pending = Buffer.alloc(0);
      socket.on("data", (data: Buffer) => {
        pending = Buffer.concat([pending, data]);
        while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
          const size = 6 + pending.readUInt16BE(4);
          replies.push(pending.subarray(0, size));
          pending = pending.subarray(size);
        }
        if (replies.length === 2) resolve();
      });
    });
    socket.write(Buffer.concat([request(1), request(2)]));
    await got;
    socket.destroy();
    expect(replies[0]?.readUInt16BE(0)).toBe(1);
    expect(replies[0]?.readUInt8(7)).toBe(3);
    expect(replies[1]?.readUInt16BE(0)).toBe(2);
    expect([replies[1]?.readUInt8(7), replies[1]?.readUInt8(8)]).toEqual([0x83, 6]);
  });
});

describe("a unit that answers out of step", () => {
  it("a reply with another transaction id: PB_ERR_MODBUS_PROTOCOL and lost (the stream cannot be trusted)", async () => {
    // A broken gateway: answers every request with transaction id 0xBEEF.
    const server = createServer((socket) => {
      socket.on("data", () => {
        socket.write(Buffer.from([0xbe, 0xef, 0, 0, 0, 5, 0, 3, 2, 0, 42]));
      });
    });
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const l = linkTo(unitFor(sim, { port, timeoutMs: 2000 }));
    try {
      await l.link.connect();
      const lostEvent = l.nextLost();
      expect(await outcome(l.link.read(["power"]))).toBe(ErrorCode.MODBUS_PROTOCOL);
      expect((await lostEvent).code).toBe(ErrorCode.MODBUS_PROTOCOL);
    } finally {
      await l.link.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(l.lost).toHaveLength(1);
  });
});
