import { errorMessage } from "../lib/errors.ts";
import { parseCommon } from "./cli-options.ts";
import { UsageError } from "./usage-error.ts";

export const usage = `plantbridge — connects plant units (Modbus TCP, OPC UA) with each other and a PostgreSQL historian

Usage:
  plantbridge run FILE [--var DIR] [--duration S] [--http [HOST:]PORT] [--inspect[=[HOST:]PORT]] [--log-level LEVEL]
      Run the plant described in FILE until SIGINT/SIGTERM (or for S seconds).
  plantbridge sim [--duration S] [--var DIR] [--fault SPEC]... [--http [HOST:]PORT] [--inspect[=[HOST:]PORT]] [--log-level LEVEL]
      Start the PEMEL and METH simulators, the embedded PostgreSQL and the plant of config/sim.yaml.
      With --duration, stop after S seconds and print a one-line JSON summary.
  plantbridge sim --scale UNITSxTAGS [--gateway] [--period D] [--duration S] [--fault SPEC]... [--var DIR]
      Start the Modbus scale simulator (UNITS units x TAGS uint16 registers, changing every period) and a
      generated plant storing every tag every D (default 1s), no control loop, embedded PostgreSQL.
      Each unit is a device on its own port with a connection of its own; --gateway puts them behind
      one gateway (unit ids 1..UNITS on one port) on one shared connection (connection: shared).
  plantbridge check FILE...
      Validate plant files; print every problem as file:line:col key.path: message; exit 1 on any.
  plantbridge import-pycomint DIR [--out FILE]
      Turn the original PyComInt tool's four config files in DIR into a plant file.
  plantbridge diagrams [DIR]
      Write the machine definitions as Mermaid state diagrams (default docs/diagrams).
  plantbridge spool status|dead-letters|replay|purge FILE [--var DIR]
      The store-and-forward spool of the plant in FILE (storage.spool.path under the var folder):
      status        samples held, pending per sink, drops, duplicates, conflicts, dead letters, size
      dead-letters  list the dead letters, oldest first [--limit N (100)] [--sink S]
      replay        put dead letters back as new pending samples (the plant must be stopped)
      purge         delete dead letters (the plant must be stopped; asks unless --yes)
      Filters for dead-letters, replay and purge: --sink S (conflict: the conflicts), --tag UNIT.tag,
      --reason-contains TEXT. --json prints one JSON value for programs.

Commissioning (through the same adapters, limits and checks as run; exit 0 ok, 1 unit or tag failed, 2 usage):
  plantbridge read FILE UNIT.tag... [--watch] [--interval S] [--json]
      Read tags (a bare UNIT: all its tags): value, engineering unit, quality, time, reason.
      --watch prints each change until Ctrl-C (Modbus polled every S seconds, OPC UA subscribed).
  plantbridge write FILE UNIT.tag VALUE [--yes]
      Write a writable tag within its limits; asks on a terminal (current value, new value, limits)
      unless --yes; prints the value read back. Anything else is refused before a byte is sent.
  plantbridge browse FILE UNIT [NODE] [--depth N]
      An OPC UA unit's address space as a tree (default from the Objects folder, depth 3).
  plantbridge scan FILE UNIT --from ADDR --count N [--area holding|input|coil|discrete]
      A Modbus unit's registers as a table, with the plant file's tags decoded where they map.
  plantbridge trust FILE UNIT [--yes]
      Show an OPC UA server's certificate and, confirmed, trust it (needed for Sign/SignAndEncrypt).
  plantbridge pki renew FILE [UNIT] [--yes]
      A new key pair and certificate for the OPC UA client; the old ones are kept as backups.
  plantbridge service install FILE [--user NAME] [--root DIR] [--environment-file PATH] [--var DIR] [--name NAME] [--watchdog S]
  plantbridge service uninstall [--root DIR] [--name NAME]
      Write (or remove) a systemd unit that runs the plant; prints what it did and what to run next.

Options:
  --var DIR          runtime folder (spool, embedded database, PKI, logs); default ./var
  --http [HOST:]PORT status page, /health, /metrics and the event stream here (default: the plant file's http:,
                     else 127.0.0.1:8480; port 0 = a free port). Beyond loopback it needs http.token.
  --inspect[=[HOST:]PORT]  serve the live actor system to the Stately inspector (default 127.0.0.1:4242)
  --log-level LEVEL  trace, debug, info (default), warn, error
  --fault SPEC       sim only: inject a fault, e.g. pemel:drop-connections@5s, meth:restart@8s, pemel:exception=4@3s+5s;
                     with --scale: scale:silent=UNITID@AT[+FOR] (a unit id stops answering), scale:drop-connections@AT
  --var DIR          also on the commissioning commands: the PKI (client certificate, trust list) under DIR/pki
  --log-level LEVEL  commissioning commands: default warn (on stderr)
`;

/** The commands that are loaded on demand, by name (`check` must not pay for the OPC UA stack). */
const commands: Record<string, () => Promise<(args: readonly string[]) => Promise<number>>> = {
  check: async () => (await import("./commands/check.ts")).checkCommand,
  "import-pycomint": async () => (await import("./commands/import-pycomint.ts")).importPycomintCommand,
  diagrams: async () => (await import("./commands/diagrams.ts")).diagramsCommand,
  read: async () => (await import("./commands/read.ts")).readCommand,
  write: async () => (await import("./commands/write.ts")).writeCommand,
  browse: async () => (await import("./commands/browse.ts")).browseCommand,
  scan: async () => (await import("./commands/scan.ts")).scanCommand,
  trust: async () => (await import("./commands/trust.ts")).trustCommand,
  pki: async () => (await import("./commands/pki.ts")).pkiCommand,
  service: async () => (await import("./commands/service.ts")).serviceCommand,
  spool: async () => (await import("./commands/spool.ts")).spoolCommand,
};

/** The command's lines of the usage text (`plantbridge read FILE UNIT.tag... …`). */
function usageOf(command: string): string[] {
  return usage
    .split("\n")
    .filter((l) => l.startsWith(`  plantbridge ${command} `))
    .map((l) => l.trim());
}

/** `run` takes the options `sim` does, except the scale simulator's. */
function runOptions(args: readonly string[]) {
  const options = parseCommon(args);
  if (options.scale !== undefined) throw new Error("--scale goes with plantbridge sim, not run");
  return options;
}

// Commands are imported when used: `check` should not pay for loading the OPC UA stack.
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await (await import("./commands/run.ts")).runCommand(runOptions(rest));
      case "sim":
        return await (await import("./commands/sim.ts")).simCommand(parseCommon(rest));
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(usage);
        return command === undefined ? 2 : 0;
      default: {
        const load = Object.hasOwn(commands, command) ? commands[command] : undefined;
        if (load !== undefined) return await (await load())(rest);
        process.stderr.write(`plantbridge: unknown command "${command}"\n\n${usage}`);
        return 2;
      }
    }
  } catch (e) {
    if (e instanceof UsageError) {
      const lines = usageOf(command ?? "");
      const hint =
        lines.length > 0 ? lines.map((l) => `usage: ${l}`).join("\n") : "plantbridge help lists the commands";
      process.stderr.write(`plantbridge ${command}: ${e.message}\n${hint}\n`);
      return 2;
    }
    process.stderr.write(`plantbridge ${command}: ${errorMessage(e)}\n`);
    return 1;
  }
}
