import { join } from "node:path";
import { createLog, type Log } from "../../lib/log.ts";

/**
 * JSON lines to <varDir>/log/plantbridge.log; pretty on stderr when it is a terminal.
 * node-opcua's own warnings and errors go into the same log once a plant (or a simulator) loads it
 * (unit-link-stacks.ts), so that a plant without an OPC UA unit never loads node-opcua.
 */
export function createPlantLog(varDir: string, level: string): Log {
  const log = createLog({
    level,
    file: join(varDir, "log", "plantbridge.log"),
    pretty: process.stderr.isTTY === true,
  });
  return log;
}
