import { errorMessage } from "../lib/errors.ts";
import { parseCommon } from "./cli-options.ts";

export const usage = `plantbridge — connects plant units (Modbus TCP, OPC UA) with each other and a PostgreSQL historian

Usage:
  plantbridge run FILE [--var DIR] [--duration S] [--inspect[=PORT]] [--log-level LEVEL]
      Run the plant described in FILE until SIGINT/SIGTERM (or for S seconds).
  plantbridge sim [--duration S] [--var DIR] [--fault SPEC]... [--inspect[=PORT]] [--log-level LEVEL]
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

Options:
  --var DIR          runtime folder (spool, embedded database, PKI, logs); default ./var
  --inspect[=PORT]   serve the live actor system to the Stately inspector on http://localhost:PORT (default 4242)
  --log-level LEVEL  trace, debug, info (default), warn, error
  --fault SPEC       sim only: inject a fault, e.g. pemel:drop-connections@5s, meth:restart@8s, pemel:exception=4@3s+5s;
                     with --scale: scale:silent=UNITID@AT[+FOR] (a unit id stops answering), scale:drop-connections@AT
`;

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
      case "check":
        return await (await import("./commands/check.ts")).checkCommand(rest);
      case "import-pycomint":
        return await (await import("./commands/import-pycomint.ts")).importPycomintCommand(rest);
      case "diagrams":
        return await (await import("./commands/diagrams.ts")).diagramsCommand(rest);
      case "spool":
        return await (await import("./commands/spool.ts")).spoolCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(usage);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`plantbridge: unknown command "${command}"\n\n${usage}`);
        return 2;
    }
  } catch (e) {
    process.stderr.write(`plantbridge ${command}: ${errorMessage(e)}\n`);
    return 1;
  }
}
