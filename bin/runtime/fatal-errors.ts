import type { Log } from "../../lib/log.ts";

/** How long the clean stop after a fatal error may take before the process exits anyway. */
const backstopMs = 60_000;

/**
 * Resolves with the reason on the first uncaught exception or unhandled rejection of the process.
 * The caller then stops the plant cleanly (final flush, links and spool closed) and exits non-zero,
 * so that a supervisor (systemd) starts it again. A backstop exits with code 1 should that stop
 * itself hang.
 */
export function watchFatalErrors(logOrGetter: Log | (() => Log | undefined)): Promise<string> {
  const log = () => (typeof logOrGetter === "function" ? logOrGetter() : logOrGetter);
  return new Promise((resolve) => {
    let seen = false;
    const onFatal = (kind: string, error: unknown) => {
      const reason = `${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      log()?.fatal({ reason }, `fatal error, stopping cleanly: ${reason}`);
      if (seen) return;
      seen = true;
      setTimeout(() => {
        log()?.fatal("the clean stop after a fatal error did not finish: exiting now");
        process.exit(1);
      }, backstopMs).unref();
      resolve(reason);
    };
    process.on("uncaughtException", (e) => onFatal("uncaught exception", e));
    process.on("unhandledRejection", (e) => onFatal("unhandled rejection", e));
  });
}
