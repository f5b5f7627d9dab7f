/**
 * The commissioning commands against the PEMEL Modbus simulator, through the real CLI: read (one
 * request for a unit's tags, values as served), read --watch, write (limits and writability checked
 * before anything is sent, the simulator's served writes prove it), scan (tags decoded in their
 * type, requests split at the protocol maximum), and errors that name unit, tag and the answer.
 */
import { execFileSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Bench, followCli, plantFile, startBench } from "./commissioning-kit.ts";

let bench: Bench;

beforeAll(async () => {
  bench = await startBench("commissioning-modbus");
}, 60_000);

afterEach(() => bench.pemel.clearFaults());

afterAll(async () => {
  await bench?.stop();
});

/** What PEMEL served so far: a write or a read shows up here, a refused command must not. */
const served = () => ({
  reads: bench.pemel.served.readCount,
  writes: bench.pemel.served.registerWriteCount,
  exceptions: bench.pemel.served.exceptionCount,
});

describe("plantbridge read (Modbus)", () => {
  it("prints value, unit, quality and time of each tag, a unit's tags read in one request", async () => {
    const before = served();
    const r = await bench.cli("read", [
      "PEMEL.el_power_act",
      "PEMEL.el_current_act",
      "PEMEL.el_h2_pressure_act",
      "PEMEL.safety",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(served().reads - before.reads).toBe(1);
    const request = bench.pemel.served.reads.at(-1);
    // status word 0x8061 and values 0x8065..0x8067: one request bridging the 3-register gap
    expect(request).toMatchObject({ area: "holding", address: 0x8061, count: 7 });
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TAG\s+VALUE\s+UNIT\s+QUALITY\s+TIME\s+REASON$/);
    const row = (tag: string) => lines.find((l) => l.startsWith(`${tag} `))?.split(/\s+/);
    expect(row("PEMEL.el_power_act")).toEqual([
      "PEMEL.el_power_act",
      String(request?.values[4]),
      "W",
      "good",
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    ]);
    expect(row("PEMEL.el_current_act")?.[1]).toBe(String(request?.values[5]));
    expect(row("PEMEL.safety")?.[1]).toBe(String(((request?.values[0] ?? 0) & (1 << 4)) !== 0));
  });

  it("--json prints one object per tag; a bare UNIT reads all of its tags", async () => {
    const r = await bench.cli("read", ["PEMEL", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { tag: string; quality: string; unit?: string });
    expect(rows.map((x) => x.tag)).toContain("PEMEL.h2_cooling_temperature_reached");
    expect(rows.find((x) => x.tag === "PEMEL.current_setpoint")).toMatchObject({
      quality: "good",
      unit: "A",
    });
    expect(rows).toHaveLength(12);
  });

  it("names unit, tag and the device's answer when the unit answers with an exception", async () => {
    bench.pemel.setFault({ kind: "exception", code: 2, addresses: [0x8006, 0x8006] });
    const r = await bench.cli("read", ["PEMEL.current_setpoint", "PEMEL.el_power_act"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("PEMEL.current_setpoint: Modbus exception 2 (illegal data address)");
    expect(r.stdout).toMatch(/PEMEL\.el_power_act\s+\d+\s+W\s+good/);
    expect(r.stdout).toMatch(/PEMEL\.current_setpoint\s+-\s+A\s+bad\s+\S+\s+Modbus exception 2/);
  });

  it("names the unit when it cannot be reached", async () => {
    const r = await bench.cli("read", ["PEMEL.el_power_act"], { PB_SIM_PEMEL_PORT: "1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^PEMEL: cannot connect to 127\.0\.0\.1:1/m);
  });

  it("--watch prints each change until Ctrl-C, and nothing while nothing changes", async () => {
    const holding = bench.pemel.memory().holding;
    holding.writeUInt16BE(17, 0x8006 * 2);
    const watch = followCli(
      ["read", plantFile, "PEMEL.current_setpoint", "--watch", "--interval", "0.2", "--var", bench.varDir],
      bench.env,
    );
    await watch.waitFor(/^PEMEL\.current_setpoint\s+17\s+A\s+good/);
    const readsAtFirst = served().reads;
    // several polls of an unchanged value print nothing more
    await waitUntil(() => served().reads >= readsAtFirst + 3);
    holding.writeUInt16BE(23, 0x8006 * 2);
    await watch.waitFor(/^PEMEL\.current_setpoint\s+23\s+A\s+good/);
    expect(await watch.interrupt()).toBe(0);
    const rows = watch
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("PEMEL.current_setpoint"));
    expect(rows).toHaveLength(2);
  });
});

describe("plantbridge write (Modbus)", () => {
  it("writes a writable tag within its limits and prints the value read back", async () => {
    const before = served();
    const r = await bench.cli("write", ["PEMEL.current_setpoint", "19", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PEMEL\.current_setpoint: was \d+ A, wrote 19 A, reads back 19 A \(good, /);
    expect(served().writes - before.writes).toBe(1);
    expect(bench.pemel.served.writes.at(-1)).toMatchObject({ address: 0x8006, value: 19 });
  });

  it.each([
    [
      ["PEMEL.current_setpoint", "60"],
      "PEMEL.current_setpoint: 60 is outside the limits [0, 52]; nothing was sent",
    ],
    [
      ["PEMEL.current_setpoint", "-1"],
      "PEMEL.current_setpoint: -1 is outside the limits [0, 52]; nothing was sent",
    ],
    [["PEMEL.el_power_act", "5"], "PEMEL.el_power_act: tag is not declared writable"],
    [["PEMEL.safety", "true"], "PEMEL.safety: tag is not declared writable"],
  ])("refuses %j before anything is sent: %s", async (args, says) => {
    const before = served();
    const connections = bench.pemel.connections();
    const r = await bench.cli("write", [...args, "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(says);
    expect(served()).toEqual(before);
    expect(bench.pemel.connections()).toBe(connections);
  });

  it("refuses to write without --yes when there is no terminal to ask on", async () => {
    const before = served();
    const r = await bench.cli("write", ["PEMEL.current_setpoint", "20"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("give --yes");
    expect(served()).toEqual(before);
  });

  it("names the unit's answer when it refuses the write", async () => {
    const before = served();
    const r = await bench.cli("write", ["PEMEL.power_limit", "100", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("PEMEL.power_limit: Modbus exception 2 (illegal data address)");
    expect(served().writes).toBe(before.writes);
    expect(served().exceptions - before.exceptions).toBe(1);
  });

  it.skipIf(!hasScript())(
    "asks on a terminal, showing the current value, the new one and the limits",
    async () => {
      const before = served();
      const question = await onTerminal(
        ["write", plantFile, "PEMEL.current_setpoint", "21", "--var", bench.varDir],
        "n\n",
      );
      expect(question).toMatch(
        /PEMEL\.current_setpoint: now \d+ A; write 21 A \(limits 0 A \.\. 52 A\)\? \[y\/N\]/,
      );
      expect(question).toContain("not written");
      expect(served().writes).toBe(before.writes);
      const yes = await onTerminal(
        ["write", plantFile, "PEMEL.current_setpoint", "21", "--var", bench.varDir],
        "y\n",
      );
      expect(yes).toContain("wrote 21 A, reads back 21 A");
      expect(bench.pemel.served.writes.at(-1)).toMatchObject({ address: 0x8006, value: 21 });
    },
  );

  it("writes a coil and reads it back", async () => {
    const r = await bench.cli("write", ["PEMEL.pump_enable", "true", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("wrote true, reads back true");
    expect(bench.pemel.served.registerWrites.at(-1)).toMatchObject({ area: "coil", address: 5, values: [1] });
  });
});

describe("plantbridge scan", () => {
  it("decodes the plant file's tags in their type: float32 word order, scaled int16, bits by name", async () => {
    const holding = bench.pemel.memory().holding;
    holding.writeUInt16BE(0x0000, 0x9000 * 2); // 12.5 as float32 is 0x41480000; CDAB sends the low word first
    holding.writeUInt16BE(0x4148, 0x9001 * 2);
    holding.writeInt16BE(-123, 0x9002 * 2);
    const r = await bench.cli("scan", ["PEMEL", "--from", "0x9000", "--count", "4"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^PEMEL holding registers 0x9000\.\.0x9003 \(4\) at 127\.0\.0\.1:\d+, unit id 0$/,
    );
    expect(lines[1]).toMatch(/^ADDRESS\s+DEC\s+HEX\s+RAW\s+TAGS$/);
    expect(lines[2]).toMatch(
      /^0x9000\s+36864\s+0x0000\s+0\s+flow_total = 12\.5 Nl \(float32, CDAB, 0x9000\.\.0x9001\)$/,
    );
    expect(lines[3]).toMatch(/^0x9001\s+36865\s+0x4148\s+16712\s+\(flow_total, word 2 of 2\)$/);
    expect(lines[4]).toMatch(
      /^0x9002\s+36866\s+0xFF85\s+65413\s+offset_temp = -12\.3 °C \(int16, raw × 0\.1 \+ 0\)$/,
    );
    expect(lines[5]).toMatch(/^0x9003\s+36867\s+0x0000\s+0$/);

    const status = await bench.cli("scan", ["PEMEL", "--from", "0x8061", "--count", "1"]);
    const word = bench.pemel.served.reads.at(-1)?.values[0] ?? 0;
    const on = (bit: number) => (word & (1 << bit)) !== 0;
    const named = [
      ["error", 0],
      ["safety", 4],
      ["h2_cooling", 9],
      ["h2_cooling_temperature_reached", 10],
    ] as const;
    const expected = (want: boolean) =>
      named
        .filter(([, bit]) => on(bit) === want)
        .map(([n, bit]) => `${n}(${bit})`)
        .join(" ") || "-";
    expect(status.stdout).toContain(`bits on: ${expected(true)} | off: ${expected(false)}`);
  });

  it("splits a long range at the protocol maximum of 125 registers", async () => {
    const before = served();
    const r = await bench.cli("scan", ["PEMEL", "--from", "0", "--count", "300"]);
    expect(r.code, r.stderr).toBe(0);
    expect(served().reads - before.reads).toBe(3);
    const requests = bench.pemel.served.reads.slice(-3).map((x) => [x.address, x.count]);
    expect(requests.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0))).toEqual([
      [0, 125],
      [125, 125],
      [250, 50],
    ]);
    expect(r.stdout.trim().split("\n")).toHaveLength(302);
  });

  it("shows coils and the bool tags on them", async () => {
    const r = await bench.cli("scan", ["PEMEL", "--from", "4", "--count", "3", "--area", "coil"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^0x0005\s+5\s+1\s+1\s+pump_enable = true$/m);
  });

  it("names the unit and the range it refused, with its answer", async () => {
    bench.pemel.setFault({ kind: "exception", code: 2, addresses: [0x9000, 0x9000] });
    const r = await bench.cli("scan", ["PEMEL", "--from", "0x8FFF", "--count", "3"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("PEMEL holding 0x8FFF..0x9001: Modbus exception 2 (illegal data address)");
    expect(r.stdout).toMatch(
      /^0x9000\s+36864\s+-\s+Modbus exception 2 \(illegal data address\); flow_total: not decoded/m,
    );
  });
});

describe("usage errors exit 2", () => {
  it.each([
    [["read", ["PEMEL.nope"]], /unit PEMEL has no tag "nope"/],
    [["read", ["NOPE.x"]], /the plant has no unit "NOPE"; its units are: PEMEL, METH/],
    [["read", []], /name at least one tag/],
    [["write", ["PEMEL.current_setpoint", "lots", "--yes"]], /"lots" is not a number/],
    [["scan", ["PEMEL", "--count", "2"]], /give --from ADDR and --count N/],
    [["scan", ["PEMEL", "--from", "0xFFFF", "--count", "2"]], /--count must be a whole number from 1 to 1/],
    [["scan", ["METH", "--from", "0", "--count", "2"]], /METH is an OPC UA unit/],
    [["browse", ["PEMEL"]], /PEMEL is a Modbus unit/],
    [["read", ["PEMEL.safety", "--bogus"]], /Unknown option '--bogus'/],
  ] as const)("%j", async ([command, args], says) => {
    const before = served();
    const r = await bench.cli(command, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(says);
    expect(served()).toEqual(before);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function hasScript(): boolean {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `input`; returns what the terminal showed. */
async function onTerminal(args: readonly string[], input: string): Promise<string> {
  const { spawn } = await import("node:child_process");
  const { repoRoot } = await import("./run-cli.ts");
  const bin = new URL("../../bin/plantbridge.ts", import.meta.url).pathname;
  const command = [process.execPath, bin, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd: repoRoot,
      env: { ...process.env, ...bench.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      // answer once the question is on the screen
      if (out.includes("[y/N]") && !child.stdin.writableEnded) child.stdin.end(input);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no answer on the terminal; it showed:\n${out}`));
    }, 60_000);
    child.on("close", () => {
      clearTimeout(timer);
      resolve(out.replaceAll("\r", ""));
    });
  });
}
