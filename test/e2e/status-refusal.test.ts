/**
 * A status server that would be reachable beyond this computer without a token is refused before
 * anything starts: `run` exits 1 naming http.token, and creates nothing.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./run-cli.ts";

const simEnv = {
  PB_SIM_PEMEL_PORT: "1502",
  PB_SIM_METH_ENDPOINT: "opc.tcp://127.0.0.1:1",
  PB_HISTORIAN_URL: undefined,
};

describe("plantbridge run --http beyond loopback", () => {
  it.each(["0.0.0.0:0", "192.0.2.10:8480"])(
    "--http %s without a token → exit 1 naming http.token, nothing created",
    async (http) => {
      const varDir = join(repoRoot, "var", "test", `status-refusal-${randomBytes(4).toString("hex")}`);
      const result = await runCli(["run", "config/sim.yaml", "--var", varDir, "--http", http], {
        env: simEnv,
        timeoutMs: 30_000,
      });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain("http.token");
      expect(result.stderr).toContain("without a token");
      expect(result.stdout).toBe("");
      expect(existsSync(varDir), "the --var folder was not even created").toBe(false);
    },
  );

  it("refuses a malformed --http at once", async () => {
    const result = await runCli(["run", "config/sim.yaml", "--http", "localhost:"], { env: simEnv });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--http wants [HOST:]PORT");
  });
});
