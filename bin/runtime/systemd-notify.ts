/**
 * The systemd notification protocol (sd_notify) without a native module. Node cannot send on a
 * unix datagram socket (node:dgram speaks UDP only, node:net streams only), so every message goes
 * through `systemd-notify`, a child process. Such a child is not the service's main process, which
 * is why the unit sets `NotifyAccess=all`; and `systemd-notify` (without --no-block, systemd ≥ 246)
 * waits until the service manager has processed the message (BARRIER=1), so the message is never
 * lost to the race sd_notify(3) warns about for short-lived senders.
 *
 * - READY=1 once the plant runs (Type=notify: `systemctl start` returns then, and a plant that
 *   cannot start fails the start).
 * - WATCHDOG=1 every half WatchdogSec, only while the plant's machines make progress
 *   (plant-liveness.ts): a stalled plant is killed and restarted by systemd.
 * - STOPPING=1 when the shutdown begins; STATUS= says what the plant does.
 * Without $NOTIFY_SOCKET (not started by systemd) nothing happens.
 */
import { spawn } from "node:child_process";
import { errorMessage } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { Liveness } from "./plant-liveness.ts";

export interface SystemdNotifier {
  /** Start-up is complete. */
  ready(status: string): Promise<void>;
  /** Shutdown has begun; the watchdog is no longer fed. */
  stopping(): Promise<void>;
  /** Stops feeding the watchdog (at the end of the run). */
  close(): void;
  /** How often the watchdog is fed, ms; undefined when systemd asked for no watchdog. */
  readonly watchdogIntervalMs: number | undefined;
}

export interface NotifierOptions {
  env: NodeJS.ProcessEnv;
  log: Log;
  /** The plant's liveness, asked before every watchdog ping. */
  liveness: () => Liveness;
  /** The `systemd-notify` program; default from PATH. */
  command?: string;
}

/** The watchdog interval systemd asks for (WATCHDOG_USEC for this process), halved; undefined if none. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000 / 2));
}

export function startSystemdNotifier(options: NotifierOptions): SystemdNotifier | undefined {
  const { env, log } = options;
  if (!env.NOTIFY_SOCKET) return undefined;
  const command = options.command ?? "systemd-notify";
  const intervalMs = watchdogInterval(env, process.pid);
  let failureLogged = false;
  let pinging = false;
  let lastReason: string | undefined;

  const send = (args: readonly string[]): Promise<boolean> =>
    new Promise((resolve) => {
      let settled = false;
      const done = (failure: string | undefined) => {
        if (settled) return;
        settled = true;
        if (failure !== undefined && !failureLogged) {
          failureLogged = true;
          log.error(
            { command, args, reason: failure },
            "systemd-notify failed: systemd gets no notifications",
          );
        }
        resolve(failure === undefined);
      };
      const child = spawn(command, [...args], { stdio: ["ignore", "ignore", "pipe"], env });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      child.on("error", (e) => done(errorMessage(e)));
      child.on("close", (code) => done(code === 0 ? undefined : stderr.trim() || `exit code ${code}`));
    });

  const timer =
    intervalMs === undefined
      ? undefined
      : setInterval(() => {
          if (pinging) return; // the previous ping has not been processed yet
          const live = options.liveness();
          if (!live.alive) {
            if (live.reason !== lastReason) {
              log.error({ reason: live.reason }, "not feeding the systemd watchdog: the plant has stalled");
            }
            lastReason = live.reason;
            return;
          }
          if (lastReason !== undefined) log.info("feeding the systemd watchdog again");
          lastReason = undefined;
          pinging = true;
          void send(["WATCHDOG=1"]).finally(() => {
            pinging = false;
          });
        }, intervalMs);
  timer?.unref();
  if (intervalMs !== undefined)
    log.info({ intervalMs }, "feeding the systemd watchdog while the plant makes progress");

  return {
    watchdogIntervalMs: intervalMs,
    async ready(status) {
      await send(["--ready", `--status=${status}`]);
    },
    async stopping() {
      if (timer !== undefined) clearInterval(timer);
      await send(["--status=stopping: final flush, closing links", "STOPPING=1"]);
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
