import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runningServerPid, stopServer } from "../../adapters/embedded-postgres/server-process.ts";
import { type PlantProcess, repoRoot, spawnPlantbridge } from "../support/crash.ts";
import { waitFor } from "../support/plant-harness.ts";

/**
 * systemd may stop the service while plantbridge is still starting (the embedded PostgreSQL's
 * initdb takes a second or more). SIGTERM then must not kill the process half-way (leaving a
 * database server or a half-initialised data directory behind): plantbridge finishes starting,
 * then stops cleanly, and exits 0.
 */
describe("SIGTERM while plantbridge run is still starting", () => {
  let varDir: string;
  let plant: PlantProcess | undefined;

  beforeAll(async () => {
    varDir = join(repoRoot, "var", "test", `run-stop-during-start-${randomBytes(4).toString("hex")}`);
    await mkdir(varDir, { recursive: true });
    await chmod(varDir, 0o755); // as root, the embedded server runs as user postgres and must reach var/
  });

  afterAll(async () => {
    if (plant && !plant.exit) {
      plant.child.kill("SIGKILL");
      await plant.exited;
    }
    const left = runningServerPid(join(varDir, "postgres"));
    if (left !== undefined) await stopServer(join(varDir, "postgres"), left, 15_000);
    await rm(varDir, { recursive: true, force: true });
  });

  it("finishes starting, stops cleanly, exits 0 and leaves no database server running", async () => {
    const started = spawnPlantbridge(["run", "config/sim.yaml", "--var", varDir, "--http", "127.0.0.1:0"], {
      // Nothing listens on these: the units stay connecting, which does not matter here.
      PB_SIM_PEMEL_PORT: "1",
      PB_SIM_METH_ENDPOINT: "opc.tcp://127.0.0.1:1",
      PB_HISTORIAN_URL: "", // the embedded PostgreSQL: a fresh data directory, so initdb runs
      PB_HISTORIAN_SCHEMA: undefined,
    });
    plant = started;
    // The log folder appears once the inputs are checked and start-up begins (before initdb).
    await waitFor(
      "start-up to begin",
      () => existsSync(join(varDir, "log")) || started.exit !== undefined,
      30_000,
    );
    started.child.kill("SIGTERM");
    const exit = await started.exited;
    expect(exit, started.stderr()).toEqual({ code: 0, signal: null });
    const last = JSON.parse(started.stdout().trim().split("\n").at(-1) ?? "{}") as { reason?: string };
    expect(last.reason).toBe("SIGTERM");
    // The signal was taken during start-up: it is logged before the plant started.
    const log = readFileSync(join(varDir, "log", "plantbridge.log"), "utf8");
    const signalAt = log.indexOf("shutting down: final flush");
    const startedAt = log.indexOf('"plant started"');
    expect(signalAt).toBeGreaterThanOrEqual(0);
    expect(startedAt).toBeGreaterThan(signalAt);
    expect(runningServerPid(join(varDir, "postgres"))).toBeUndefined();
  }, 90_000);
});
