import type { Log } from "../../lib/log.ts";

/**
 * Resolves on the first SIGINT/SIGTERM (or after `durationS`, when given) with what ended the run.
 * A second signal while shutting down exits at once (the spool keeps what was not flushed).
 * The handlers are in place when this returns; `log` may be a getter, so a caller can listen
 * before its log exists (a signal that finds no handler kills the process on the spot).
 */
export function waitForStop(
  logOrGetter: Log | (() => Log | undefined),
  durationS?: number,
): Promise<"SIGINT" | "SIGTERM" | "duration"> {
  const log = () => (typeof logOrGetter === "function" ? logOrGetter() : logOrGetter);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onSignal = (signal: "SIGINT" | "SIGTERM") => {
      if (timer) clearTimeout(timer);
      process.off("SIGINT", onInt).off("SIGTERM", onTerm);
      process.once("SIGINT", forceExit).once("SIGTERM", forceExit);
      log()?.info({ signal }, "shutting down: final flush, then closing links");
      resolve(signal);
    };
    const onInt = () => onSignal("SIGINT");
    const onTerm = () => onSignal("SIGTERM");
    const forceExit = () => {
      log()?.warn("second signal: exiting now; unflushed samples stay in the spool for the next start");
      process.exit(130);
    };
    process.on("SIGINT", onInt).on("SIGTERM", onTerm);
    if (durationS !== undefined) {
      timer = setTimeout(() => {
        process.off("SIGINT", onInt).off("SIGTERM", onTerm);
        resolve("duration");
      }, durationS * 1000);
    }
  });
}
