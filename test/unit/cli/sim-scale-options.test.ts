// `plantbridge sim --scale UNITSxTAGS [--gateway] [--period D]` and its `--fault scale:…` specs.
import { describe, expect, it } from "vitest";
import { parseCommon } from "../../../bin/cli-options.ts";
import { checkFaultSpecs, scaleFault } from "../../../bin/runtime/fault-schedule.ts";

describe("sim --scale options", () => {
  it.each([
    [["--scale", "20x500"], { scale: { units: 20, tags: 500 }, gateway: false }],
    [
      ["--scale", "3x50", "--gateway", "--period", "250ms"],
      { scale: { units: 3, tags: 50 }, gateway: true, periodMs: 250 },
    ],
    [["--scale", "1x1", "--period", "2s"], { scale: { units: 1, tags: 1 }, periodMs: 2000 }],
    [["--scale", "247x65536", "--period", "100"], { scale: { units: 247, tags: 65536 }, periodMs: 100 }],
  ])("%j", (args, expected) => {
    expect(parseCommon(args)).toMatchObject(expected);
  });

  it("leaves them out of a plain sim", () => {
    const options = parseCommon(["--duration", "5"]);
    expect(options.scale).toBeUndefined();
    expect(options.periodMs).toBeUndefined();
    expect(options.gateway).toBe(false);
  });

  it.each([
    [["--scale", "20"], /UNITSxTAGS/],
    [["--scale", "0x10"], /1\.\.247 units/],
    [["--scale", "248x10"], /1\.\.247 units/],
    [["--scale", "2x65537"], /1\.\.65536 tags/],
    [["--scale", "2x10", "--period", "5ms"], /at least 10ms/],
    [["--scale", "2x10", "--period", "soon"], /duration/],
    [["--gateway"], /go with --scale/],
    [["--period", "1s"], /go with --scale/],
  ])("refuses %j", (args, message) => {
    expect(() => parseCommon(args)).toThrow(message);
  });
});

describe("--fault scale:…", () => {
  it("schedules a silent unit id and a drop of every connection", () => {
    const [silent, drop] = checkFaultSpecs(["scale:silent=3@5s+20s", "scale:drop-connections@8s"], ["scale"]);
    expect(silent).toMatchObject({ target: "scale", kind: "silent", arg: "3", atMs: 5000, forMs: 20_000 });
    expect(scaleFault(silent!)).toEqual({ kind: "silent", unitId: 3 });
    expect(scaleFault(drop!)).toEqual({ kind: "drop-connections" });
  });

  it.each([
    [["scale:silent=3@5s"], ["pemel", "meth"], /no scale simulator runs here/],
    [["pemel:drop-connections@5s"], ["scale"], /no pemel simulator runs here/],
    [["scale:silent=300@5s"], ["scale"], /unit id 0\.\.255/],
    [["scale:restart@5s"], ["scale"], /knows silent=UNITID and drop-connections/],
  ] as const)("refuses %j where %j run", (specs, targets, message) => {
    expect(() => checkFaultSpecs(specs, targets)).toThrow(message);
  });
});
