/**
 * `plantbridge spool status|dead-letters|replay|purge` through the real CLI, on the spool of
 * config/sim.yaml under a var folder of its own: the read-only commands work at any time, the
 * changing ones refuse while a process holds the spool (naming it) and work once it is gone.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSpool } from "../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../adapters/types.ts";
import { silentLog } from "../../lib/log.ts";
import { holdSpoolInChild } from "../support/spool-owner.ts";
import { makeTestDir } from "../unit/spool/spool-kit.ts";
import { repoRoot, runCli } from "./run-cli.ts";

const simYaml = join(repoRoot, "config", "sim.yaml");
const t0 = Date.UTC(2026, 2, 29, 1, 0);
let folder: ReturnType<typeof makeTestDir>;
let spoolPath: string;

const spoolCli = (...args: string[]) =>
  runCli(["spool", ...args, "--var", folder.dir], { timeoutMs: 60_000 });

interface StatusJson {
  held: number;
  sinks: { sink: string; pending: number; oldest?: string; newest?: string }[];
  counters: Record<string, number>;
  deadLetters: {
    held: number;
    bySink: Record<string, number>;
    topReasons: { reason: string; count: number }[];
  };
  owner?: { pid: number; role: string };
  maxDeadLetters: number;
}

async function status(): Promise<StatusJson> {
  const r = await spoolCli("status", simYaml, "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as StatusJson;
}

beforeAll(() => {
  folder = makeTestDir("spool-cli");
  spoolPath = join(folder.dir, "spool", "power-to-gas-sim.sqlite");
  // A stopped plant's spool: PEMEL.el_current_act refused for 4 cycles, one conflict, 2 pending.
  const spool = openSpool({
    path: spoolPath,
    sinks: ["postgres"],
    maxSamples: 1000,
    synchronous: "NORMAL",
    log: silentLog(),
  });
  const at = (k: number, tag: string, value: number): Sample => ({
    tag,
    time: t0 + k * 1000,
    value,
    quality: "good",
  });
  spool.append([0, 1, 2, 3].map((k) => at(k, "PEMEL.el_current_act", k)));
  spool.deadLetter(
    "postgres",
    spool.readBatch("postgres", 4),
    "refused (SQLSTATE 23514): check (Failing row contains (…))",
  );
  spool.append([at(4, "METH.real_temperature", 37), at(5, "METH.real_temperature", 38)]);
  spool.append([at(4, "METH.real_temperature", 36)]);
  spool.close();
});
afterAll(() => folder.remove());

describe("plantbridge spool", () => {
  it("status: held and pending samples, counters, dead letters per sink and reason (text and JSON)", async () => {
    const s = await status();
    expect(s).toMatchObject({
      held: 2,
      sinks: [
        {
          sink: "postgres",
          pending: 2,
          oldest: "2026-03-29T01:00:04.000Z",
          newest: "2026-03-29T01:00:05.000Z",
        },
      ],
      counters: { dropped: 0, duplicates: 0, conflicts: 1, deadLettered: 4 },
      deadLetters: {
        held: 5,
        bySink: { postgres: 4, conflict: 1 },
        topReasons: [
          { reason: "postgres: refused (SQLSTATE 23514): check", count: 4 },
          { reason: "conflict: the spool already held the tag and time with another value", count: 1 },
        ],
      },
      maxDeadLetters: 100_000,
    });
    expect(s.owner).toBeUndefined();
    const text = await spoolCli("status", simYaml);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`spool        ${spoolPath} (`);
    expect(text.stdout).toMatch(/^pending {6}postgres: 2 \(oldest 2026-03-29T01:00:04.000Z/m);
    expect(text.stdout).toMatch(/^dead letters 5 held of at most 100,000: conflict 1, postgres 4$/m);
  });

  it("dead-letters: oldest first, with tag, ISO time, value, quality, sink and reason; --limit, --sink", async () => {
    const r = await spoolCli("dead-letters", simYaml, "--sink", "postgres", "--limit", "2", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      expect.objectContaining({
        id: 1,
        seq: 1,
        sink: "postgres",
        tag: "PEMEL.el_current_act",
        time: "2026-03-29T01:00:00.000Z",
        value: 0,
        quality: "good",
      }),
      expect.objectContaining({ id: 2, seq: 2, tag: "PEMEL.el_current_act", value: 1 }),
    ]);
    const text = await spoolCli("dead-letters", simYaml, "--sink", "conflict");
    expect(text.stdout.trim()).toBe(
      "#5  2026-03-29T01:00:04.000Z  METH.real_temperature = 36 good  [conflict] conflict: spool already holds METH.real_temperature at 2026-03-29T01:00:04.000Z with 37 (new 36)",
    );
  });

  it("replay and purge refuse while a process holds the spool, naming it; status still reads", async () => {
    const owner = await holdSpoolInChild(spoolPath);
    try {
      for (const args of [
        ["replay", simYaml],
        ["purge", simYaml, "--yes"],
      ]) {
        const r = await spoolCli(...args);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`spool ${spoolPath} is in use by process ${owner.pid} (plant, since `);
        expect(r.stderr).toContain("stop it first");
      }
      expect(await status()).toMatchObject({
        owner: { pid: owner.pid, role: "plant" },
        deadLetters: { held: 5 },
      });
    } finally {
      await owner.kill();
    }
  });

  it("replay puts dead letters back as new pending samples; purge asks for --yes off a terminal, then deletes", async () => {
    const replay = await spoolCli(
      "replay",
      simYaml,
      "--tag",
      "PEMEL.el_current_act",
      "--reason-contains",
      "23514",
    );
    expect(replay.stderr).toBe("");
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(
      /^replayed 4 dead letters into .* as new pending samples \(seq \d+\.\.\d+\)$/m,
    );
    // The child that held the spool appended one sample of its own.
    expect(await status()).toMatchObject({
      held: 7,
      sinks: [{ pending: 7 }],
      deadLetters: { held: 1, bySink: { conflict: 1 } },
      counters: { deadLettersReplayed: 4 },
    });

    const unconfirmed = await spoolCli("purge", simYaml);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("would delete 1 dead letters");
    expect((await status()).deadLetters.held).toBe(1);
    const purge = await spoolCli("purge", simYaml, "--yes");
    expect(purge.code).toBe(0);
    expect(purge.stdout.trim()).toBe(`purged 1 dead letters from ${spoolPath}`);
    expect(await status()).toMatchObject({ deadLetters: { held: 0 }, counters: { deadLettersPurged: 1 } });
  });

  it("needs only the spool keys of the plant file: config/plant.yaml without its units' environment", async () => {
    const r = await spoolCli("status", join(repoRoot, "config", "plant.yaml"));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `plantbridge spool: spool ${join(folder.dir, "spool", "power-to-gas.sqlite")} does not exist (no plant has run with this file and var folder)`,
    );
  });

  it("answers a wrong call with the usage and exit code 2", async () => {
    for (const args of [
      ["bogus", simYaml],
      ["status"],
      ["status", simYaml, "--yes"],
      ["dead-letters", simYaml, "--limit", "0"],
    ]) {
      const r = await spoolCli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("usage: plantbridge spool status|dead-letters|replay|purge FILE");
    }
  });
});
