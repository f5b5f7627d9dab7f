/** Shared set-up for the OPC UA integration tests: a run folder under var/test, METH unit configs, a log that remembers. */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import type { PushListener, Reading } from "../../../adapters/types.ts";
import type { Log } from "../../../lib/log.ts";
import type { OpcuaTagConfig, OpcuaUnitConfig } from "../../../schemas/plant-types.ts";

export function runFolder(area: string): { dir: string; remove(): void } {
  const dir = resolve("var/test", `${area}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger at debug level whose lines are kept in memory (and also carry no secret). */
export function memoryLog(): { log: Log; lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines, text: () => raw.join("\n") };
}

export const METH_USER = "OPCUA_user_1";
export const METH_PASSWORD = "s3cret-Methanation!";

export function methTag(name: string, nodeId: string, extra: Partial<OpcuaTagConfig> = {}): OpcuaTagConfig {
  return { name, nodeId, mode: "poll", samplingIntervalMs: 10, dataType: "Double", ...extra };
}

/** The reference plant's four METH tags plus the simulator's writable test variables. */
export function methTags(): OpcuaTagConfig[] {
  return [
    methTag("real_temperature", "ns=7;s=::AsGlobalPV:real_temperature"),
    methTag("real_pressure", "ns=7;s=::AsGlobalPV:real_pressure"),
    methTag("real_methane_production", "ns=7;s=::AsGlobalPV:real_methane_production"),
    methTag("real_h2_flowrate", "ns=7;s=::AsGlobalPV:real_h2_flowrate", { mode: "subscribe" }),
    methTag("test_setpoint", "ns=7;s=::AsGlobalPV:real_test_setpoint", { writable: { min: 0, max: 50 } }),
    methTag("test_level", "ns=7;s=::AsGlobalPV:int_test_level", {
      dataType: "Int16",
      writable: { min: -100, max: 1000 },
    }),
    methTag("test_enable", "ns=7;s=::AsGlobalPV:bool_test_enable", {
      dataType: "Boolean",
      writable: { min: 0, max: 1 },
    }),
  ];
}

export function methUnit(endpoint: string, overrides: Partial<OpcuaUnitConfig> = {}): OpcuaUnitConfig {
  return {
    name: "METH",
    protocol: "opcua",
    endpoint,
    securityMode: "None",
    securityPolicy: "None",
    username: METH_USER,
    password: METH_PASSWORD,
    timeoutMs: 2_000,
    keepAliveMs: 1_000,
    publishingIntervalMs: 10,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2, jitter: 0, stableAfterMs: 0 },
    tags: methTags(),
    ...overrides,
  };
}

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What a subscription told the test: readings by tag, signs of life, its end. */
export interface PushRecord {
  listener: PushListener;
  readings: { tag: string; reading: Reading }[];
  alive: number;
  ended: string[];
}

/** A PushListener that records everything (and calls `onReading` for each reading, if given). */
export function recordPushes(onReading?: (tag: string, reading: Reading) => void): PushRecord {
  const record: PushRecord = {
    readings: [],
    alive: 0,
    ended: [],
    listener: {
      reading: (tag, reading) => {
        record.readings.push({ tag, reading });
        onReading?.(tag, reading);
      },
      alive: () => {
        record.alive++;
      },
      ended: (reason) => {
        record.ended.push(reason);
      },
    },
  };
  return record;
}
