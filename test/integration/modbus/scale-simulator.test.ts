// The Modbus scale simulator on the wire: values as its function says, limits as exceptions,
// pipelined requests answered in order, a silent unit id, and what it counts per unit id.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { mbapFrame, readRequestPdu, writeRequestPdu } from "../../../adapters/modbus/pdu.ts";
import {
  type ModbusScaleSimulator,
  scaleValue,
  startModbusScaleSimulator,
  tickOf,
} from "../../../simulators/scale/index.ts";
import { eventually } from "./harness.ts";

/** A raw client: sends frames, collects every reply frame. */
async function rawClient(
  port: number,
): Promise<{ socket: Socket; replies: Buffer[]; send(frames: Buffer[]): void }> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const replies: Buffer[] = [];
  let held = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    held = Buffer.concat([held, chunk]);
    while (held.length >= 6 && held.length >= 6 + held.readUInt16BE(4)) {
      const size = 6 + held.readUInt16BE(4);
      replies.push(held.subarray(0, size));
      held = held.subarray(size);
    }
  });
  return { socket, replies, send: (frames) => socket.write(Buffer.concat(frames)) };
}

describe("Modbus scale simulator", () => {
  let sim: ModbusScaleSimulator | undefined;
  let socket: Socket | undefined;

  afterEach(async () => {
    socket?.destroy();
    await sim?.stop();
    sim = socket = undefined;
  });

  it("a value decodes back to its tick; neighbouring registers and units decode to other ticks", () => {
    for (const [u, r, t] of [
      [0, 0, 0],
      [19, 499, 86_400],
      [3, 7, 65_535],
    ] as const) {
      expect(tickOf(u, r, scaleValue(u, r, t))).toBe(t & 0xffff);
      expect(tickOf(u, r + 1, scaleValue(u, r, t))).not.toBe(t & 0xffff);
      expect(tickOf(u + 1, r, scaleValue(u, r, t))).not.toBe(t & 0xffff);
    }
  });

  it("a gateway: one port, pipelined requests answered in order, limits as exceptions, counted per unit id", async () => {
    sim = await startModbusScaleSimulator({
      units: 3,
      registers: 100,
      shape: "gateway",
      changeEveryMs: 60_000,
    });
    expect(new Set(sim.units.map((u) => u.port)).size).toBe(1);
    expect(sim.units.map((u) => u.unitId)).toEqual([1, 2, 3]);
    const client = await rawClient(sim.units[0]!.port);
    socket = client.socket;
    client.send([
      mbapFrame(1, 2, readRequestPdu("holding", 10, 3)),
      mbapFrame(2, 3, readRequestPdu("input", 98, 2)),
      mbapFrame(3, 1, readRequestPdu("holding", 99, 2)), // past register 99: exception 2
      mbapFrame(4, 9, readRequestPdu("holding", 0, 1)), // no such unit id: exception 11
      mbapFrame(5, 1, writeRequestPdu("holding", 0, [1])), // read-only: exception 1
      mbapFrame(6, 1, readRequestPdu("coil", 0, 8)), // no coils: exception 2
    ]);
    await eventually(() => client.replies.length === 6);
    expect(client.replies.map((r) => r.readUInt16BE(0))).toEqual([1, 2, 3, 4, 5, 6]);
    const tick = sim.tick();
    const words = (reply: Buffer) =>
      Array.from({ length: reply.readUInt8(8) / 2 }, (_, i) => reply.readUInt16BE(9 + 2 * i));
    expect(words(client.replies[0]!)).toEqual([10, 11, 12].map((r) => scaleValue(1, r, tick)));
    expect(words(client.replies[1]!)).toEqual([98, 99].map((r) => scaleValue(2, r, tick)));
    expect(client.replies.slice(2).map((r) => [r.readUInt8(7), r.readUInt8(8)])).toEqual([
      [0x83, 2],
      [0x83, 11],
      [0x86, 1],
      [0x81, 2],
    ]);
    expect(sim.served.unit(2)).toMatchObject({ reads: 1, registers: 3, exceptions: 0 });
    expect(sim.served.unit(1)).toMatchObject({ reads: 0, exceptions: 3 });
    expect(sim.served.servedAt(2, 11, tick)).toBe(true);
    expect(sim.served.servedAt(2, 13, tick)).toBe(false);
  });

  it("devices: a port per unit; a silent unit id reads and never answers, then answers again", async () => {
    sim = await startModbusScaleSimulator({ units: 2, registers: 10, shape: "devices" });
    const [a, b] = sim.units as [(typeof sim.units)[0], (typeof sim.units)[0]];
    expect(a.port).not.toBe(b.port);
    const client = await rawClient(b.port);
    socket = client.socket;
    sim.setSilent(b.unitId, true);
    client.send([mbapFrame(1, b.unitId, readRequestPdu("holding", 0, 10))]);
    await eventually(() => sim?.served.unit(b.unitId)?.unanswered === 1);
    sim.setSilent(b.unitId, false);
    client.send([
      mbapFrame(2, b.unitId, readRequestPdu("holding", 0, 10)),
      mbapFrame(3, a.unitId, readRequestPdu("holding", 0, 1)),
    ]);
    await eventually(() => client.replies.length === 2);
    expect(client.replies.map((r) => [r.readUInt16BE(0), r.readUInt8(7)])).toEqual([
      [2, 3],
      [3, 0x83], // unit id 1 is not served on unit id 2's port
    ]);
    expect(client.replies[1]?.readUInt8(8)).toBe(11);
  });
});
