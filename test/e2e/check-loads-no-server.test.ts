/**
 * `plantbridge check` (and the CLI's start) never load the status server's packages: fastify and
 * prom-client are imported only by `run` and `sim`, when their HTTP server starts.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./run-cli.ts";

function loadedAfter(script: string): Promise<{ fastify: boolean; promClient: boolean; out: string }> {
  const probe = `
    ${script}
    const { createRequire } = await import("node:module");
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({
      fastify: loaded.some((f) => f.includes("/node_modules/fastify/")),
      promClient: loaded.some((f) => f.includes("/node_modules/prom-client/")),
    }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", probe], {
      cwd: repoRoot,
      env: { ...process.env, PB_SIM_PEMEL_PORT: "1502", PB_SIM_METH_ENDPOINT: "opc.tcp://127.0.0.1:1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.on("error", reject);
    child.on("close", () => {
      const last = out.trim().split("\n").at(-1) ?? "{}";
      resolve({ ...(JSON.parse(last) as { fastify: boolean; promClient: boolean }), out });
    });
  });
}

describe("what `check` loads", () => {
  it("checks a plant without loading fastify or prom-client; the status server does load them", async () => {
    const check = await loadedAfter(`
      const { main } = await import("./bin/cli.ts");
      const code = await main(["check", "config/sim.yaml"]);
      if (code !== 0) throw new Error("check failed: " + code);`);
    expect(check.out).toContain("config/sim.yaml: ok");
    expect(check).toMatchObject({ fastify: false, promClient: false });
    const server = await loadedAfter(`await import("./status/server.ts");`);
    expect(server).toMatchObject({ fastify: true, promClient: true });
  });
});
