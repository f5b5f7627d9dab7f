import { parseArgs } from "node:util";
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
    },
  });
  let durationS: number | undefined;
  if (values.duration !== undefined) {
    durationS = Number(values.duration);
    if (!Number.isFinite(durationS) || durationS <= 0)
      throw new Error(`--duration must be a positive number of seconds, got "${values.duration}"`);
  }
  if (values.http !== undefined) parseHttpOption(values.http);
  return {
    positionals,
    varDir: values.var,
    durationS,
    ...(values.inspect !== undefined ? { inspect: inspectAddress(values.inspect) } : {}),
    ...(values.http !== undefined ? { http: values.http } : {}),
    logLevel: values["log-level"] ?? "info",
    faults: values.fault ?? [],
  };
}
