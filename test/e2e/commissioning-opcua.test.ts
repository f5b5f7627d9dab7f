/**
 * The commissioning commands against the METH OPC UA simulator, through the real CLI: read (one Read
 * for a unit's tags), read --watch (subscribed), write (limits checked before anything is sent),
 * browse (the address space as a tree), and errors that name unit, tag and the server's status.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bench, followCli, plantFile, startBench } from "./commissioning-kit.ts";

let bench: Bench;

beforeAll(async () => {
  bench = await startBench("commissioning-opcua");
  bench.meth.setDemand(12.5);
}, 60_000);

afterAll(async () => {
  await bench?.stop();
});

describe("plantbridge read (OPC UA)", () => {
  it("reads a unit's tags in one Read and prints what the server holds", async () => {
    const before = bench.meth.served.valueReads;
    const r = await bench.cli("read", ["METH.h2_demand", "METH.test_setpoint", "METH.real_temperature"]);
    expect(r.code, r.stderr).toBe(0);
    expect(bench.meth.served.valueReads - before).toBe(1);
    expect(r.stdout).toMatch(/^METH\.h2_demand\s+12\.5\s+Nl\/min\s+good\s+\S+Z$/m);
    expect(r.stdout).toMatch(/^METH\.real_temperature\s+\d+(\.\d+)?\s+°C\s+good/m);
  });

  it("names unit, tag and the server's status for an unknown node", async () => {
    const r = await bench.cli("read", ["METH.missing", "METH.h2_demand"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toContain("METH.missing: BadNodeIdUnknown");
    expect(r.stdout).toMatch(/^METH\.h2_demand\s+12\.5/m);
  });

  it("--watch follows a subscribed tag: each change of the demand, until Ctrl-C", async () => {
    const watch = followCli(
      ["read", plantFile, "METH.h2_demand", "--watch", "--interval", "0.05", "--var", bench.varDir],
      bench.env,
    );
    await watch.waitFor(/^METH\.h2_demand\s+12\.5\s/);
    bench.meth.setDemand(9.75);
    await watch.waitFor(/^METH\.h2_demand\s+9\.75\s/);
    bench.meth.setDemand(14);
    await watch.waitFor(/^METH\.h2_demand\s+14\s/);
    expect(await watch.interrupt()).toBe(0);
    const values = watch
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("METH.h2_demand"))
      .map((l) => l.split(/\s+/)[1]);
    expect(values).toEqual(["12.5", "9.75", "14"]);
    bench.meth.setDemand(12.5);
  });
});

describe("plantbridge write (OPC UA)", () => {
  it("writes a writable tag and prints the value read back", async () => {
    const r = await bench.cli("write", ["METH.test_setpoint", "12.5", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^METH\.test_setpoint: was \S+ Nl\/min, wrote 12\.5 Nl\/min, reads back 12\.5 Nl\/min \(good, /,
    );
    expect(bench.meth.valueOf("real_test_setpoint")).toBe(12.5);
  });

  it.each([
    [["METH.test_setpoint", "80"], "METH.test_setpoint: 80 is outside the limits [0, 50]; nothing was sent"],
    [["METH.real_temperature", "20"], "METH.real_temperature: tag is not declared writable"],
  ])("refuses %j and sends nothing: %s", async (args, says) => {
    const writes = bench.meth.served.writes;
    const sessions = bench.meth.served.sessionsCreated;
    const r = await bench.cli("write", [...args, "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(says);
    expect(bench.meth.served.writes).toBe(writes);
    expect(bench.meth.served.sessionsCreated).toBe(sessions);
  });
});

describe("plantbridge browse", () => {
  it("shows the address space from the Objects folder with node ids, data types, access and the plant's tags", async () => {
    const r = await bench.cli("browse", ["METH"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("Objects  ns=0;i=85  Object");
    expect(lines).toContainEqual(expect.stringMatching(/^└─ 7:METH {2}ns=7;i=\d+ {2}Object$/));
    expect(lines).toContainEqual(
      "   ├─ 7:real_h2_flowrate  ns=7;s=::AsGlobalPV:real_h2_flowrate  Variable  Double  CurrentRead  = METH.h2_demand",
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /7:int_test_level {2}ns=7;s=::AsGlobalPV:int_test_level {2}Variable {2}Int16 {2}CurrentRead\|CurrentWrite$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/├─ NamespaceArray {2}ns=0;i=2255 {2}Variable {2}String\[\] {2}CurrentRead$/),
    );
  });

  it("stops at --depth and counts what lies below", async () => {
    const r = await bench.cli("browse", ["METH", "--depth", "1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^└─ 7:METH {2}ns=7;i=\d+ {2}Object {2}\(\+7 below, use --depth\)$/m);
    expect(r.stdout).not.toContain("real_h2_flowrate");
  });

  it("starts at a node given by id or by a tag's name", async () => {
    const byTag = await bench.cli("browse", ["METH", "h2_demand"]);
    expect(byTag.code, byTag.stderr).toBe(0);
    expect(byTag.stdout.split("\n")[0]).toBe(
      "7:real_h2_flowrate  ns=7;s=::AsGlobalPV:real_h2_flowrate  Variable  Double  CurrentRead  = METH.h2_demand",
    );
    expect(byTag.stdout).toContain("EURange");
    const unknown = await bench.cli("browse", ["METH", "ns=7;s=nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("METH: node ns=7;s=nope: BadNodeIdUnknown");
  });
});
