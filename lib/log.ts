import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import pino from "pino";

export type Log = pino.Logger;

/** Key paths whose values are never written to a log (secrets from the plant file). */
export const redactedPaths = [
  "password",
  "*.password",
  "*.*.password",
  "url",
  "*.url",
  "historianUrl",
  "token",
  "*.token",
];

export interface LogOptions {
  level?: string;
  /** JSON lines go to this file (created with its folder); absent = no file. */
  file?: string;
  /** Pretty, human-readable output on stderr (a terminal). */
  pretty?: boolean;
}

/** pino logs: JSON to a file under var/log/, pretty on a terminal. */
export function createLog(options: LogOptions = {}): Log {
  const level = options.level ?? "info";
  const targets: pino.TransportTargetOptions[] = [];
  if (options.file !== undefined) {
    mkdirSync(dirname(options.file), { recursive: true });
    targets.push({ target: "pino/file", level, options: { destination: options.file, mkdir: true } });
  }
  if (options.pretty) {
    targets.push({ target: "pino-pretty", level, options: { destination: 2, colorize: true } });
  }
  if (targets.length === 0) {
    return pino({ level, redact: redactedPaths }, pino.destination(2));
  }
  return pino({ level, redact: redactedPaths }, pino.transport({ targets }));
}

/** A logger that writes nothing: for tests and benchmarks. */
export function silentLog(): Log {
  return pino({ level: "silent" });
}
