import { parseArgs } from "node:util";

/** Options shared by `run` and `sim`. */
export interface CommonOptions {
  positionals: string[];
  varDir?: string;
  durationS?: number;
  inspectPort?: number;
  logLevel: string;
  faults: string[];
}

export function parseCommon(args: readonly string[]): CommonOptions {
  const { values, positionals } = parseArgs({
    // A bare `--inspect` means the default port; parseArgs wants a value for string options.
    args: args.map((a) => (a === "--inspect" ? "--inspect=" : a)),
    allowPositionals: true,
    options: {
      var: { type: "string" },
      duration: { type: "string" },
      inspect: { type: "string" },
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
  let inspectPort: number | undefined;
  if (values.inspect !== undefined) {
    inspectPort = values.inspect === "" ? 4242 : Number(values.inspect);
    if (!Number.isInteger(inspectPort) || inspectPort <= 0 || inspectPort > 65535)
      throw new Error(`--inspect port must be 1..65535`);
  }
  return {
    positionals,
    varDir: values.var,
    durationS,
    inspectPort,
    logLevel: values["log-level"] ?? "info",
    faults: values.fault ?? [],
  };
}
