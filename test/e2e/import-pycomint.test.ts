import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./run-cli.ts";

describe("plantbridge import-pycomint (the CLI)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(repoRoot, "var", "test-import-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("turns the original tool's four files into a plant file that check accepts", async () => {
    const out = join(dir, "imported.yaml");
    const imported = await runCli(["import-pycomint", join("test", "fixtures", "pycomint"), "--out", out]);
    expect(imported.code).toBe(0);
    const text = await readFile(out, "utf8");
    expect(text).toContain("0x8061");
    expect(text).toContain("ns=7;s=::AsGlobalPV:real_h2_flowrate");
    const checked = await runCli(["check", out], {
      env: { PEMEL_HOST: "127.0.0.1", METH_ENDPOINT: "opc.tcp://127.0.0.1:4840", METH_PASSWORD: "x" },
    });
    expect(checked.stderr).toBe("");
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/33 stored tags/);
  });
});
