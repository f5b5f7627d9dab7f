// The frame guard on a shared connection: replies to requests that timed out (expired) are
// recognised by their transaction id, checked like any reply, and dropped; nothing else changes.
import { describe, expect, it } from "vitest";
import { createFrameGuard, maxLateReplies } from "../../../adapters/modbus/frame-guard.ts";
import { mbapFrame, readRequestPdu } from "../../../adapters/modbus/pdu.ts";

/** A read of `count` holding registers from unit id `unit` with transaction id `id`. */
const request = (id: number, unit: number, count = 2) =>
  mbapFrame(id, unit, readRequestPdu("holding", 0, count));
/** Its normal reply (every register 7). */
const reply = (id: number, unit: number, count = 2) =>
  mbapFrame(id, unit, Buffer.from([3, 2 * count, ...new Array<number>(2 * count).fill(7)]));

function guarded() {
  const frames: number[] = [];
  const late: number[] = [];
  const violations: string[] = [];
  const guard = createFrameGuard({
    onFrame: (f) => frames.push(f.readUInt16BE(0)),
    onLate: (_f, id) => late.push(id),
    onViolation: (m) => violations.push(m),
  });
  return { guard, frames, late, violations };
}

describe("frame guard: late replies on a shared connection", () => {
  it("drops the late reply of an expired request while the next one is in flight, and passes the next reply", () => {
    const g = guarded();
    g.guard.sent(request(1, 7));
    g.guard.expire(1);
    g.guard.sent(request(2, 1));
    g.guard.received(Buffer.concat([reply(1, 7), reply(2, 1)]));
    expect(g.late).toEqual([1]);
    expect(g.frames).toEqual([2]);
    expect(g.violations).toEqual([]);
    expect(g.guard.expired).toBe(0);
  });

  it("drops a late reply that arrives while nothing is in flight, split over segments", () => {
    const g = guarded();
    g.guard.sent(request(9, 3, 4));
    g.guard.expire(9);
    expect(g.guard.inFlight).toBe(0);
    const bytes = reply(9, 3, 4);
    for (const byte of bytes) g.guard.received(Buffer.from([byte]));
    expect(g.late).toEqual([9]);
    expect(g.violations).toEqual([]);
  });

  it.each([
    ["another unit id", () => reply(1, 8)],
    ["a wrong byte count", () => mbapFrame(1, 7, Buffer.from([3, 2, 0, 7]))],
    ["a second reply to the same expired request", () => Buffer.concat([reply(1, 7), reply(1, 7)])],
  ])("a late frame with %s is still a violation", (_name, bytes) => {
    const g = guarded();
    g.guard.sent(request(1, 7));
    g.guard.expire(1);
    g.guard.sent(request(2, 1));
    g.guard.received(bytes());
    expect(g.violations).toHaveLength(1);
    expect(g.frames).toEqual([]);
  });

  it(`remembers the last ${maxLateReplies} expired requests only`, () => {
    const g = guarded();
    for (let id = 1; id <= maxLateReplies + 1; id++) {
      g.guard.sent(request(id, 7));
      g.guard.expire(id);
    }
    expect(g.guard.expired).toBe(maxLateReplies);
    g.guard.received(reply(maxLateReplies + 1, 7));
    expect(g.late).toEqual([maxLateReplies + 1]);
    g.guard.received(reply(1, 7)); // forgotten: answers nothing
    expect(g.violations).toEqual(["unit sent a reply (transaction id 1) while no request was in flight"]);
  });

  it("an expired exception reply is dropped too", () => {
    const g = guarded();
    g.guard.sent(request(4, 2));
    g.guard.expire(4);
    g.guard.received(mbapFrame(4, 2, Buffer.from([0x83, 11])));
    expect(g.late).toEqual([4]);
    expect(g.violations).toEqual([]);
  });
});
