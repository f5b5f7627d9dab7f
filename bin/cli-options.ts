import { parseArgs } from "node:util";
import { parseDuration } from "../schemas/durations.ts";
import { parseHttpOption } from "../status/address.ts";

/** Options shared by `run` and `sim`. */
export interface CommonOptions {
  positionals: string[];
  varDir?: string;
  durationS?: number;
  /** `--inspect[=[HOST:]PORT]`: the Stately inspector's address (loopback unless a host is given). */
  inspect?: { host: string; port: number };
  /** `--http [HOST:]PORT`, checked; it overrides the plant file's `http:`. */
  http?: string;
  logLevel: string;
  faults: string[];
  /** `sim --scale UNITSxTAGS`: the Modbus scale simulator and a generated plant instead of config/sim.yaml. */
  scale?: { units: number; tags: number };
  /** `sim --scale … --gateway`: one gateway with many unit ids on one shared connection. */
  gateway: boolean;
  /** `sim --scale … --period D`: the generated plant's storage period (default 1 s). */
  periodMs?: number;
}

/** The scale simulator's limits: unit ids 1..247, one unit's 65 536 registers. */
const maxScaleUnits = 247;
const maxScaleTags = 65_536;

function parseScale(text: string): { units: number; tags: number } {
  const m = /^(\d+)x(\d+)$/.exec(text.trim());
  const units = Number(m?.[1]);
  const tags = Number(m?.[2]);
  if (!m || units < 1 || units > maxScaleUnits || tags < 1 || tags > maxScaleTags) {
    throw new Error(
      `--scale must be UNITSxTAGS with 1..${maxScaleUnits} units and 1..${maxScaleTags} tags per unit, e.g. 20x500; got "${text}"`,
    );
  }
  return { units, tags };
}

function inspectAddress(text: string): { host: string; port: number } {
  if (text === "") return { host: "127.0.0.1", port: 4242 };
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65535)
    throw new Error(
      `--inspect wants [HOST:]PORT (e.g. 4242, 0.0.0.0:4242; port 0 = any free port), got "${text}"`,
    );
  return { host: match[1]?.replace(/^\[|\]$/g, "") ?? "127.0.0.1", port };
}

export function parseCommon(args: readonly string[]): CommonOptions {
  const { values, positionals } = parseArgs({
    // A bare `--inspect` means the default address; parseArgs wants a value for string options.
    args: args.map((a) => (a === "--inspect" ? "--inspect=" : a)),
    allowPositionals: true,
    options: {
      var: { type: "string" },
      duration: { type: "string" },
      inspect: { type: "string" },
      http: { type: "string" },
      "log-level": { type: "string" },
      fault: { type: "string", multiple: true },
      scale: { type: "string" },
      gateway: { type: "boolean", default: false },
      period: { type: "string" },
    },
  });
  let durationS: number | undefined;
  if (values.duration !== undefined) {
    durationS = Number(values.duration);
    if (!Number.isFinite(durationS) || durationS <= 0)
      throw new Error(`--duration must be a positive number of seconds, got "${values.duration}"`);
  }
  if (values.http !== undefined) parseHttpOption(values.http);
  const scale = values.scale === undefined ? undefined : parseScale(values.scale);
  let periodMs: number | undefined;
  if (values.period !== undefined) {
    periodMs = parseDuration(/^\d+(\.\d+)?$/.test(values.period) ? Number(values.period) : values.period);
    if (!Number.isFinite(periodMs) || periodMs < 10)
      throw new Error(
        `--period must be a duration of at least 10ms (e.g. 100ms, 1s), got "${values.period}"`,
      );
  }
  if (scale === undefined && (values.gateway === true || periodMs !== undefined))
    throw new Error(
      "--gateway and --period go with --scale UNITSxTAGS (plantbridge sim --scale 20x500 --gateway)",
    );
  return {
    positionals,
    varDir: values.var,
    durationS,
    ...(values.inspect !== undefined ? { inspect: inspectAddress(values.inspect) } : {}),
    ...(values.http !== undefined ? { http: values.http } : {}),
    logLevel: values["log-level"] ?? "info",
    faults: values.fault ?? [],
    ...(scale !== undefined ? { scale } : {}),
    gateway: values.gateway === true,
    ...(periodMs !== undefined ? { periodMs } : {}),
  };
}
