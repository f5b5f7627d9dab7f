import { format } from "node:util";
import { setErrorLogger, setWarningLogger } from "node-opcua-client";
import type { Log } from "../../lib/log.ts";

interface CallerContext {
  filename?: string;
  callerline?: number;
}

/**
 * node-opcua prints its warnings and errors with console.log, which would mix them into stdout (where
 * `plantbridge sim --duration` prints its one JSON line). Route them into the plant log instead.
 */
export function routeOpcuaLibraryLogs(log: Log, maxPerSource = 100): void {
  const library = log.child({ library: "node-opcua" });
  const seen = new Map<string, number>();
  const route =
    (level: "warn" | "error") =>
    (data?: unknown, ...args: unknown[]): void => {
      const context = (typeof data === "object" && data !== null ? data : {}) as CallerContext;
      // Like node-opcua itself: a message repeated from one place is logged a bounded number of times.
      const source = `${context.filename ?? "?"}:${context.callerline ?? "?"}`;
      const count = (seen.get(source) ?? 0) + 1;
      seen.set(source, count);
      if (count > maxPerSource) return;
      const suffix =
        count === maxPerSource
          ? ` (logged ${maxPerSource} times from here; further ones are not logged)`
          : "";
      library[level]({ source }, `${format(...args)}${suffix}`);
    };
  setWarningLogger(route("warn"));
  setErrorLogger(route("error"));
}
