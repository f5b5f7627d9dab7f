/**
 * Every command loads only the protocol stack it uses: `check` neither, a Modbus command no OPC UA
 * (node-opcua takes seconds to load), an OPC UA command node-opcua. The control cases prove the
 * probe sees a stack when it is loaded.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bench, plantFile, startBench } from "./commissioning-kit.ts";

const probe = fileURLToPath(new URL("../support/report-loaded-stacks.ts", import.meta.url));
let bench: Bench;

beforeAll(async () => {
  bench = await startBench("commissioning-lazy");
}, 60_000);

afterAll(async () => {
  await bench?.stop();
});

const loaded = (stderr: string) => [...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]);
const withProbe = { NODE_OPTIONS: `--import=${probe}` };

describe("protocol stacks are loaded only by the commands that use them", () => {
  it("check loads neither", async () => {
    const { runCli } = await import("./run-cli.ts");
    const r = await runCli(["check", plantFile], { env: { ...bench.env, ...withProbe } });
    expect(r.code, r.stderr).toBe(0);
    expect(loaded(r.stderr)).toEqual([]);
  });

  it("a Modbus read and scan load jsmodbus, not node-opcua", async () => {
    const read = await bench.cli("read", ["PEMEL.el_power_act"], withProbe);
    expect(read.code, read.stderr).toBe(0);
    expect(loaded(read.stderr)).toEqual(["jsmodbus"]);
    const scan = await bench.cli("scan", ["PEMEL", "--from", "0x8061", "--count", "2"], withProbe);
    expect(scan.code, scan.stderr).toBe(0);
    expect(loaded(scan.stderr)).toEqual(["jsmodbus"]);
  });

  it("an OPC UA read loads node-opcua, not jsmodbus", async () => {
    const r = await bench.cli("read", ["METH.real_temperature"], withProbe);
    expect(r.code, r.stderr).toBe(0);
    expect(loaded(r.stderr)).toEqual(["node-opcua"]);
  });
});
