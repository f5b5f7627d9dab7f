/**
 * `plantbridge run` under systemd's notification protocol (Type=notify, WatchdogSec): READY=1 once the
 * plant runs, WATCHDOG=1 while its machines make progress, STOPPING=1 at the clean stop. Against a
 * stand-in notification socket, the real simulators and the test PostgreSQL; skipped where python3
 * or systemd-notify is missing.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MethSimulator, startMethSimulator } from "../../simulators/meth/index.ts";
import { type PemelSimulator, startPemelSimulator } from "../../simulators/pemel/index.ts";
import { available, type NotifySocket, openNotifySocket } from "../support/notify-socket.ts";
import { dropSchema, testDatabaseUrl, uniqueSchemaName } from "../support/pg-schema.ts";
import { repoRoot, runCli } from "./run-cli.ts";

describe.skipIf(!available())("plantbridge run under systemd (sd_notify)", () => {
  const dir = join(repoRoot, "var", "test", `run-systemd-${randomBytes(4).toString("hex")}`);
  const schema = uniqueSchemaName("run_systemd");
  let socket: NotifySocket;
  let pemel: PemelSimulator;
  let meth: MethSimulator;

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    socket = await openNotifySocket(join(dir, "notify.sock"));
    pemel = await startPemelSimulator({ warmUpMs: 0 });
    meth = await startMethSimulator({
      pkiDir: join(dir, "meth-pki"),
      username: "plantbridge",
      password: "sim",
    });
  }, 60_000);

  afterAll(async () => {
    socket?.close();
    await Promise.all([pemel?.stop(), meth?.stop()]);
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  it("says READY=1 when the plant runs, feeds the watchdog, and says STOPPING=1 at the stop", async () => {
    const r = await runCli(
      ["run", "config/sim.yaml", "--var", join(dir, "var"), "--duration", "3", "--log-level", "warn"],
      {
        env: {
          PB_SIM_PEMEL_PORT: String(pemel.port),
          PB_SIM_METH_ENDPOINT: meth.endpoint,
          PB_HISTORIAN_URL: testDatabaseUrl,
          PB_HISTORIAN_SCHEMA: schema,
          NOTIFY_SOCKET: socket.path,
          WATCHDOG_USEC: "1000000",
        },
        timeoutMs: 90_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    await socket.waitFor((m) => m.some((x) => x.endsWith("STOPPING=1")));
    const messages = socket.messages().filter((m) => m !== "BARRIER=1");
    expect(messages[0]).toBe("READY=1 | STATUS=running plant power-to-gas-sim");
    // (a watchdog ping already on its way may still land after it)
    expect(messages).toContain("STATUS=stopping: final flush, closing links | STOPPING=1");
    expect(messages.filter((m) => m === "WATCHDOG=1").length).toBeGreaterThanOrEqual(1);
  });
});
