import { join } from "node:path";
import { createLog, type Log } from "../../lib/log.ts";
import { routeOpcuaLibraryLogs } from "./opcua-library-log.ts";

/**
 * JSON lines to <varDir>/log/plantbridge.log; pretty on stderr when it is a terminal.
 * node-opcua's own warnings and errors go into the same log.
 */
export function createPlantLog(varDir: string, level: string): Log {
  const log = createLog({
    level,
    file: join(varDir, "log", "plantbridge.log"),
    pretty: process.stderr.isTTY === true,
  });
  routeOpcuaLibraryLogs(log);
  return log;
}
