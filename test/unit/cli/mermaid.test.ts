import { describe, expect, it } from "vitest";
import { toMermaid } from "../../../bin/runtime/mermaid.ts";
import { connectionMachine } from "../../../machines/connection.machine.ts";
import { controlMachine } from "../../../machines/control.machine.ts";

describe("machine diagrams (Mermaid, from the machine definitions)", () => {
  it("draws the connection machine's states, invokes, backoff and the shutdown that applies in any state", () => {
    const text = toMermaid(connectionMachine);
    expect(text.startsWith("stateDiagram-v2\n")).toBe(true);
    expect(text).toContain("[*] --> disconnected");
    expect(text).toContain("connecting --> connected : done connectLink");
    expect(text).toContain("connected --> faulted : LINK_LOST");
    expect(text).toContain("faulted_waiting --> connecting : after backoff");
    expect(text).toContain("any_state --> closing : SHUTDOWN");
  });

  it("draws eventless transitions with their guards", () => {
    const text = toMermaid(controlMachine);
    expect(text).toContain("evaluating_deciding --> evaluating_writing : always [writePlanned]");
    expect(text).toContain("waiting --> evaluating : after untilWake");
  });
});
