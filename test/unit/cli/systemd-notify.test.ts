/**
 * The sd_notify protocol through the real systemd-notify, against a stand-in notification socket:
 * READY=1, WATCHDOG=1 only while the plant makes progress, STOPPING=1. Skipped where python3 or
 * systemd-notify is missing (the protocol itself is then untestable here).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystemdNotifier, watchdogInterval } from "../../../bin/runtime/systemd-notify.ts";
import { silentLog } from "../../../lib/log.ts";
import { repoRoot } from "../../e2e/run-cli.ts";
import { available, type NotifySocket, openNotifySocket } from "../../support/notify-socket.ts";

describe("watchdogInterval", () => {
  it("is half of WATCHDOG_USEC, for this process only", () => {
    expect(watchdogInterval({ WATCHDOG_USEC: "30000000" }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "7" }, 42)).toBeUndefined();
    expect(watchdogInterval({}, 42)).toBeUndefined();
    expect(watchdogInterval({ WATCHDOG_USEC: "0" }, 42)).toBeUndefined();
  });

  it("does nothing without NOTIFY_SOCKET (not started by systemd)", () => {
    expect(
      startSystemdNotifier({ env: {}, log: silentLog(), liveness: () => ({ alive: true }) }),
    ).toBeUndefined();
  });
});

describe.skipIf(!available())("systemd-notify against a notification socket", () => {
  const dir = join(repoRoot, "var", "test", `notify-${process.pid}`);
  let socket: NotifySocket;

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    socket = await openNotifySocket(join(dir, "notify.sock"));
  }, 40_000);

  afterAll(() => {
    socket?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("says READY=1, feeds the watchdog only while alive, and says STOPPING=1", async () => {
    let alive = true;
    const answers = { alive: 0, refused: 0 };
    const env = {
      ...process.env,
      NOTIFY_SOCKET: socket.path,
      WATCHDOG_USEC: "200000",
      WATCHDOG_PID: String(process.pid),
    };
    const notifier = startSystemdNotifier({
      env,
      log: silentLog(),
      liveness: () => {
        if (alive) {
          answers.alive++;
          return { alive: true };
        }
        answers.refused++;
        return { alive: false, reason: "storage has taken no step" };
      },
    });
    expect(notifier?.watchdogIntervalMs).toBe(100);
    await notifier?.ready("running plant test");
    expect(socket.messages()).toContain("READY=1 | STATUS=running plant test");
    const pings = () => socket.messages().filter((x) => x === "WATCHDOG=1").length;
    await socket.waitFor(() => pings() >= 3);

    alive = false; // the plant stalls: the notifier keeps asking, and sends nothing
    await until(() => answers.refused >= 5);
    const aliveBeforeRecovery = answers.alive;
    alive = true;
    await until(() => answers.alive >= aliveBeforeRecovery + 2);
    await notifier?.stopping();
    notifier?.close();
    // Exactly one ping per "alive" answer arrives: none was sent while the plant had stalled.
    await socket.waitFor(() => pings() === answers.alive);
    expect(answers.refused).toBeGreaterThanOrEqual(5);
    expect(socket.messages()).toContain("STATUS=stopping: final flush, closing links | STOPPING=1");
  });
});

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
