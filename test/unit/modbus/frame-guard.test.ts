// The frame guard between the socket and jsmodbus: which bytes from a unit may reach the library.
import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import {
  createFrameGuard,
  expectedReplyTo,
  type FrameGuard,
  maxHeldBytes,
} from "../../../adapters/modbus/frame-guard.ts";
import { guardSocket } from "../../../adapters/modbus/guarded-socket.ts";

/** An MBAP frame: transaction id, unit id, PDU; `length`/`protocol` override the header fields. */
function frame(
  id: number,
  unit: number,
  pdu: number[],
  o: { length?: number; protocol?: number } = {},
): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(o.protocol ?? 0, 2);
  b.writeUInt16BE(o.length ?? pdu.length + 1, 4);
  b.writeUInt8(unit, 6);
  Buffer.from(pdu).copy(b, 7);
  return b;
}

// Requests as jsmodbus writes them (unit id 0, like PEMEL).
const readHolding1 = frame(1, 0, [3, 0x80, 0x06, 0, 1]); // set point, 1 register
const readHolding18 = frame(2, 0, [3, 0x80, 0x61, 0, 18]);
const readCoils10 = frame(3, 0, [1, 0, 0x10, 0, 10]);
const writeSingle = frame(4, 0, [6, 0x80, 0x06, 0, 30]);
const writeMultiple = frame(5, 0, [16, 0x01, 0x00, 0, 2, 4, 0, 1, 0, 2]);
const writeCoil = frame(6, 0, [5, 0, 0x10, 0xff, 0]);

const okHolding1 = frame(1, 0, [3, 2, 0, 42]);
const okHolding18 = frame(2, 0, [3, 36, ...new Array<number>(36).fill(7)]);

interface Run {
  guard: FrameGuard;
  frames: Buffer[];
  violations: string[];
  maxHeld: number;
}

function run(requests: Buffer[], chunks: Buffer[]): Run {
  const frames: Buffer[] = [];
  const violations: string[] = [];
  const guard = createFrameGuard({
    onFrame: (f) => frames.push(f),
    onViolation: (m) => violations.push(m),
  });
  for (const r of requests) guard.sent(r);
  let maxHeld = 0;
  for (const c of chunks) {
    guard.received(c);
    maxHeld = Math.max(maxHeld, guard.held);
  }
  return { guard, frames, violations, maxHeld };
}

const bytesOf = (b: Buffer) => [...b].map((x) => Buffer.from([x]));

describe("expectedReplyTo: what each request must be answered with", () => {
  it.each([
    ["read 1 holding register", readHolding1, 3, 4, "02"],
    ["read 18 holding registers", readHolding18, 3, 38, "24"],
    ["read 10 coils", readCoils10, 1, 4, "02"],
    ["write single register", writeSingle, 6, 5, "8006001e"],
    ["write multiple registers", writeMultiple, 16, 5, "01000002"],
    ["write single coil", writeCoil, 5, 5, "0010ff00"],
  ] as const)("%s", (_name, request, functionCode, pduBytes, prefix) => {
    const e = expectedReplyTo(request);
    expect(e).toMatchObject({ unitId: 0, functionCode, pduBytes });
    expect(e?.pduPrefix.toString("hex")).toBe(prefix);
  });

  it.each([
    ["too short", Buffer.from([0, 1, 0, 0, 0, 2, 0])],
    ["length field disagrees", frame(1, 0, [3, 0, 0, 0, 1], { length: 9 })],
    ["read without quantity", frame(1, 0, [3, 0, 0])],
  ])("not one request: %s", (_name, bytes) => {
    expect(expectedReplyTo(bytes)).toBeUndefined();
  });
});

describe("replies that answer the request in flight pass, one whole frame at a time", () => {
  it.each([
    ["whole", [readHolding1], [okHolding1], 1],
    ["in 1-byte segments", [readHolding18], bytesOf(okHolding18), 1],
    ["header and PDU apart", [readHolding18], [okHolding18.subarray(0, 7), okHolding18.subarray(7)], 1],
    ["coils, byte count 2", [readCoils10], [frame(3, 0, [1, 2, 0xff, 0x03])], 1],
    ["write echo", [writeSingle], [frame(4, 0, [6, 0x80, 0x06, 0, 30])], 1],
    ["FC16 echo", [writeMultiple], [frame(5, 0, [16, 0x01, 0x00, 0, 2])], 1],
    ["FC5 echo", [writeCoil], [frame(6, 0, [5, 0, 0x10, 0xff, 0])], 1],
    ["known exception", [readHolding1], [frame(1, 0, [0x83, 2])], 1],
    [
      "two in flight, answered in reverse order, in one chunk",
      [readHolding1, readHolding18],
      [Buffer.concat([okHolding18, okHolding1])],
      2,
    ],
  ] as const)("%s", (_name, requests, chunks, count) => {
    const r = run([...requests], [...chunks]);
    expect(r.violations).toEqual([]);
    expect(r.frames).toHaveLength(count);
    expect(Buffer.concat(r.frames).equals(Buffer.concat([...chunks]))).toBe(true);
    expect(r.guard.held).toBe(0);
    expect(r.guard.inFlight).toBe(0);
    expect(r.maxHeld).toBeLessThanOrEqual(maxHeldBytes);
  });

  it("an incomplete reply waits (held, no violation); the rest completes it", () => {
    const r = run([readHolding18], [okHolding18.subarray(0, 20)]);
    expect(r.violations).toEqual([]);
    expect(r.frames).toHaveLength(0);
    expect(r.guard.held).toBe(20);
    r.guard.received(okHolding18.subarray(20));
    expect(r.frames).toHaveLength(1);
    expect(r.guard.held).toBe(0);
  });

  it("an exception code jsmodbus cannot name reaches it as 4; the guard keeps the wire's code", () => {
    const r = run([readHolding1], [frame(1, 0, [0x83, 0x77])]);
    expect(r.violations).toEqual([]);
    expect([...(r.frames[0] ?? [])].slice(7)).toEqual([0x83, 4]);
    expect(r.guard.exceptionCodeOnWire(1)).toBe(0x77);
    expect(r.guard.exceptionCodeOnWire(2)).toBeUndefined();
  });

  it("a known exception code passes unchanged", () => {
    const r = run([readHolding1], [frame(1, 0, [0x83, 11])]);
    expect([...(r.frames[0] ?? [])].slice(7)).toEqual([0x83, 11]);
    expect(r.guard.exceptionCodeOnWire(1)).toBe(11);
  });

  it("the wire code is the latest exception's: a transaction id used again never gets a stale code", () => {
    const r = run([readHolding1], [frame(1, 0, [0x83, 0x77])]);
    r.guard.sent(readHolding1); // the same id again (the client's ids wrap at 65 535)
    r.guard.received(frame(1, 0, [0x83, 2]));
    expect(r.guard.exceptionCodeOnWire(1)).toBe(2);
    expect(r.frames).toHaveLength(2);
  });
});

describe("guardSocket: what jsmodbus is given instead of the socket", () => {
  function fakeSocket(): { socket: Socket; written: Buffer[] } {
    const socket = new Socket();
    const written: Buffer[] = [];
    Object.assign(socket, {
      write: (b: Buffer) => {
        written.push(b);
        return true;
      },
    });
    return { socket, written };
  }

  it("requests go out through the socket and are expected; only guarded replies come in", () => {
    const { socket, written } = fakeSocket();
    const violations: string[] = [];
    const wire = guardSocket(socket, (m) => violations.push(m));
    const got: Buffer[] = [];
    const events: string[] = [];
    wire.forLibrary.on("data", (b: Buffer) => got.push(b));
    wire.forLibrary.on("connect", () => events.push("connect"));
    wire.forLibrary.on("close", () => events.push("close"));
    socket.emit("connect");
    wire.forLibrary.write(readHolding1);
    expect(written).toEqual([readHolding1]);
    expect(wire.guard.inFlight).toBe(1);
    socket.emit("data", okHolding1);
    expect(got).toEqual([okHolding1]);
    socket.emit("data", okHolding1); // again: nothing asked for it
    expect(got).toHaveLength(1);
    expect(violations).toHaveLength(1);
    socket.emit("close", false);
    expect(events).toEqual(["connect", "close"]);
    socket.destroy();
  });

  it("a library that throws on a reply is a violation, reported once, not an uncaught exception", () => {
    const { socket } = fakeSocket();
    const violations: string[] = [];
    const wire = guardSocket(socket, (m) => violations.push(m));
    wire.forLibrary.on("data", () => {
      throw new Error("boom");
    });
    wire.forLibrary.write(readHolding18);
    wire.forLibrary.write(readHolding1);
    expect(() => socket.emit("data", Buffer.concat([okHolding18, okHolding1]))).not.toThrow();
    expect(violations).toEqual(["the Modbus library failed on a reply: boom"]);
    socket.destroy();
  });

  it("exceptionCode: the code the unit sent, even when jsmodbus was shown the stand-in", () => {
    const { socket } = fakeSocket();
    const wire = guardSocket(socket, () => {});
    wire.forLibrary.write(readHolding1);
    socket.emit("data", frame(1, 0, [0x83, 0x77]));
    const rejection = { err: "ModbusException", message: "…", response: { id: 1, body: { code: 4 } } };
    expect(wire.exceptionCode(rejection)).toBe(0x77);
    expect(wire.exceptionCode({ err: "ModbusException", response: { id: 9, body: { code: 2 } } })).toBe(2);
    expect(wire.exceptionCode({ err: "Timeout", message: "Req timed out" })).toBeUndefined();
    socket.destroy();
  });
});

describe("anything else is a protocol violation: reported once, nothing passes after it", () => {
  it.each([
    ["wrong transaction id", [readHolding1], [frame(9, 0, [3, 2, 0, 42])], /transaction id 9/],
    ["bytes while nothing is in flight", [], [okHolding1], /no request was in flight/],
    ["1 byte while nothing is in flight", [], [Buffer.from([0])], /no request was in flight/],
    ["MBAP protocol id 1", [readHolding1], [frame(1, 0, [3, 2, 0, 42], { protocol: 1 })], /protocol id 1/],
    ["MBAP length 0", [readHolding1], [frame(1, 0, [3, 2, 0, 42], { length: 0 })], /MBAP length 0,/],
    ["MBAP length 1", [readHolding1], [frame(1, 0, [3, 2, 0, 42], { length: 1 })], /MBAP length 1,/],
    ["MBAP length 255", [readHolding1], [frame(1, 0, [3, 2, 0, 42], { length: 255 })], /MBAP length 255/],
    [
      "MBAP length 65535",
      [readHolding1],
      [frame(1, 0, [3, 2, 0, 42], { length: 65535 })],
      /MBAP length 65535/,
    ],
    [
      "MBAP length longer than the reply",
      [readHolding1],
      [frame(1, 0, [3, 2, 0, 42], { length: 9 })],
      /expected 5/,
    ],
    [
      "MBAP length shorter than the reply",
      [readHolding1],
      [frame(1, 0, [3, 2, 0, 42], { length: 4 })],
      /expected 5/,
    ],
    ["wrong unit id", [readHolding1], [frame(1, 7, [3, 2, 0, 42])], /unit id 7/],
    ["wrong function code", [readHolding1], [frame(1, 0, [4, 2, 0, 42])], /function code 4/],
    ["unknown function code", [readHolding1], [frame(1, 0, [0x41, 2, 0, 42])], /function code 65/],
    ["exception for another function", [readHolding1], [frame(1, 0, [0x84, 2])], /function code 132/],
    [
      "exception with a long PDU",
      [readHolding1],
      [frame(1, 0, [0x83, 2, 0])],
      /exception reply with MBAP length 4/,
    ],
    ["byte count disagrees with the length", [readHolding1], [frame(1, 0, [3, 4, 0, 42])], /byte count 4/],
    ["reply for 2 registers instead of 1", [readHolding1], [frame(1, 0, [3, 4, 0, 42, 0, 43])], /expected 5/],
    [
      "coils: byte count 1 for 10 coils",
      [readCoils10],
      [frame(3, 0, [1, 1, 0xff])],
      /MBAP length 4, expected 5/,
    ],
    [
      "write echo with another value",
      [writeSingle],
      [frame(4, 0, [6, 0x80, 0x06, 0, 31])],
      /echoes 8006001f/,
    ],
    ["FC16 echo with another quantity", [writeMultiple], [frame(5, 0, [16, 0x01, 0x00, 0, 3])], /echoes/],
    ["random bytes", [readHolding1], [Buffer.from("hello, world: not Modbus")], /transaction id/],
  ] as const)("%s", (_name, requests, chunks, message) => {
    const r = run([...requests], [...chunks]);
    expect(r.frames).toHaveLength(0);
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatch(message);
    expect(r.guard.violation).toBe(r.violations[0]);
    expect(r.guard.held).toBe(0);
    // nothing passes any more, not even a perfect reply to a new request
    r.guard.sent(readHolding18);
    r.guard.received(okHolding18);
    expect(r.frames).toHaveLength(0);
    expect(r.violations).toHaveLength(1);
  });

  it.each([
    ["the same reply twice", Buffer.concat([okHolding1, okHolding1]), /no request was in flight/],
    [
      "a reply for the next id after it",
      Buffer.concat([okHolding1, frame(2, 0, [3, 2, 0, 42])]),
      /no request/,
    ],
  ])("glued: %s — the first passes, the second is a violation", (_name, chunk, message) => {
    const r = run([readHolding1], [chunk]);
    expect(r.frames).toHaveLength(1);
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatch(message);
  });

  it("a header claiming 65 535 bytes followed by 1 MB: refused at the header, nothing held", () => {
    const flood = Buffer.concat([frame(1, 0, [3], { length: 65535 }), Buffer.alloc(1 << 20, 0xa5)]);
    const r = run([readHolding1], [flood, Buffer.alloc(1 << 20)]);
    expect(r.violations).toHaveLength(1);
    expect(r.maxHeld).toBe(0);
  });

  it("a unit trickling a frame byte by byte never makes the guard hold more than one frame", () => {
    const requests = [readHolding18];
    const r = run(requests, bytesOf(Buffer.concat([okHolding18.subarray(0, 40)])));
    expect(r.violations).toEqual([]);
    expect(r.maxHeld).toBe(40);
    expect(r.maxHeld).toBeLessThanOrEqual(maxHeldBytes);
  });

  it("a request the client writes that is not one request frame is a violation", () => {
    const r = run([Buffer.from([1, 2, 3])], []);
    expect(r.violations).toHaveLength(1);
  });

  it("fail(): a violation found outside the guard has the same effect, reported once", () => {
    const r = run([readHolding1], []);
    r.guard.fail("the library failed");
    r.guard.fail("again");
    r.guard.received(okHolding1);
    expect(r.violations).toEqual(["the library failed"]);
    expect(r.frames).toHaveLength(0);
  });
});
