import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { openSseClient } from "../../../status/sse.ts";

/** A response whose socket takes what is written only while `accepting`. */
class SlowResponse extends EventEmitter {
  accepting = true;
  written: string[] = [];
  destroyed = false;
  ended = false;
  writeHead() {
    return this;
  }
  write(text: string) {
    this.written.push(text);
    return this.accepting;
  }
  end() {
    this.ended = true;
  }
  destroy() {
    this.destroyed = true;
    this.emit("close");
  }
}

function rig(maxQueuedBytes = 10_000) {
  const res = new SlowResponse();
  const dropped: number[] = [];
  const client = openSseClient(res as unknown as ServerResponse, {
    maxQueuedBytes,
    retryMs: 2000,
    onDropped: (bytes) => dropped.push(bytes),
  });
  const events = () =>
    res.written.filter((t) => t.startsWith("event:")).map((t) => t.split("\n").slice(0, 2).join(" "));
  return { res, client, dropped, events };
}

describe("a Server-Sent Events client", () => {
  it("writes straight through while the socket keeps up", () => {
    const { client, events } = rig();
    client.send("state", { seq: 1 });
    client.send("values", { n: 1 }, true);
    expect(events()).toEqual(['event: state data: {"seq":1}', 'event: values data: {"n":1}']);
  });

  it("keeps state changes in order and coalesces value updates while the socket is full, then drains", () => {
    const { res, client, events } = rig();
    res.accepting = false;
    client.send("state", { seq: 1 }); // written, and the socket says: full
    client.send("values", { n: 1 }, true);
    client.send("state", { seq: 2 });
    client.send("values", { n: 2 }, true);
    client.send("state", { seq: 3 });
    expect(events()).toEqual(['event: state data: {"seq":1}']);
    res.accepting = true;
    res.emit("drain");
    expect(events()).toEqual([
      'event: state data: {"seq":1}',
      'event: state data: {"seq":2}',
      'event: values data: {"n":2}',
      'event: state data: {"seq":3}',
    ]);
  });

  it("drops a client whose queue passes the bound, instead of growing without end", () => {
    const { res, client, dropped } = rig(1000);
    res.accepting = false;
    client.send("state", { seq: 0 });
    for (let seq = 1; seq <= 100 && !client.closed; seq++) client.send("state", { seq, pad: "x".repeat(50) });
    expect(client.closed).toBe(true);
    expect(res.destroyed).toBe(true);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toBeGreaterThan(1000);
    expect(dropped[0]).toBeLessThan(1100);
    const before = res.written.length;
    client.send("state", { seq: 101 });
    expect(res.written.length).toBe(before);
  });
});
