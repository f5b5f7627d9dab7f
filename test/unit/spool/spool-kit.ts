/** Helpers for the spool tests: a throw-away folder under var/test and a log that records lines. */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import type { Sample } from "../../../adapters/types.ts";
import type { Log } from "../../../lib/log.ts";

const varTestDir = fileURLToPath(new URL("../../../var/test/", import.meta.url));

/** A fresh folder var/test/<area>-<random> and a function that removes it. */
export function makeTestDir(area: string): { dir: string; remove(): void } {
  const dir = join(varTestDir, `${area}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino log that keeps every line it writes, parsed. */
export function recordingLog(): { log: Log; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

export const t0 = 1_700_000_000_000;

/** One storage cycle of the reference plant in miniature: a number, a status bit, a failed read. */
export function cycle(i: number): Sample[] {
  const time = t0 + i * 10_000;
  return [
    { tag: "METH.h2_demand", time, value: 10 + i / 4, quality: "good" },
    { tag: "PEMEL.cooling_ready", time, value: i % 2 === 0, quality: "good" },
    {
      tag: "PEMEL.current",
      time,
      value: null,
      quality: "bad",
      reason: "Modbus exception 2 (illegal data address)",
    },
  ];
}
