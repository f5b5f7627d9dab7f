import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { confirm } from "../../../bin/commissioning/confirm.ts";

function terminal(answer: string | null) {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = "";
  output.on("data", (d: Buffer) => {
    shown += d.toString("utf8");
  });
  if (answer === null) input.end();
  else input.write(answer);
  return { terminal: { input, output }, shown: () => shown };
}

describe("confirm", () => {
  it.each([
    ["y\n", true],
    ["yes\n", true],
    [" Y \n", true],
    ["n\n", false],
    ["\n", false],
    ["sure\n", false],
  ])("%j → %s", async (answer, expected) => {
    const t = terminal(answer);
    expect(await confirm("Write 30 A?", t.terminal)).toBe(expected);
    expect(t.shown()).toBe("Write 30 A? [y/N] ");
  });

  it("is no when the input ends before an answer", async () => {
    expect(await confirm("Write?", terminal(null).terminal)).toBe(false);
  });
});
