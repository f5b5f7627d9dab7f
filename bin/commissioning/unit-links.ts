/**
 * The adapters, used directly: one link per unit a command talks to, created from the plant file
 * exactly as the plant machine creates it (same limits, same writability checks, same errors),
 * connected once, closed when the command is done. Each protocol stack is loaded only when a
 * unit of that protocol is used.
 */
import { join } from "node:path";
import type { UnitLink } from "../../adapters/types.ts";
import { createLog, type Log } from "../../lib/log.ts";
import type { PlantConfig, UnitConfig } from "../../schemas/plant-types.ts";

export interface Commissioning {
  plant: PlantConfig;
  log: Log;
  /** `<var>/pki`: the same client certificate and trust list as `run`. */
  pkiDir: string;
}

/** Logs of a commissioning command: warnings and errors on stderr (readable on a terminal). */
export function commissioningLog(level: string | undefined): Log {
  return createLog({ level: level ?? "warn", pretty: process.stderr.isTTY === true });
}

export function commissioning(plant: PlantConfig, logLevel: string | undefined): Commissioning {
  return { plant, log: commissioningLog(logLevel), pkiDir: join(plant.varDir, "pki") };
}

/** node-opcua's own chatter goes to the log, not stdout; below `debug` only its errors. */
export async function routeOpcuaLogs(context: Commissioning): Promise<void> {
  const { routeOpcuaLibraryLogs } = await import("../runtime/opcua-library-log.ts");
  const verbose = context.log.isLevelEnabled("debug");
  routeOpcuaLibraryLogs(verbose ? context.log : context.log.child({}, { level: "error" }));
}

export async function createLink(unit: UnitConfig, context: Commissioning): Promise<UnitLink> {
  if (unit.protocol === "modbus-tcp") {
    const { createModbusLink } = await import("../../adapters/modbus/modbus-link.ts");
    return createModbusLink(unit, { log: context.log });
  }
  await routeOpcuaLogs(context);
  const { createOpcuaLink } = await import("../../adapters/opcua/opcua-link.ts");
  return createOpcuaLink(unit, { log: context.log, pkiDir: context.pkiDir });
}

/** Connects a link to `unit`, runs `use`, and closes the link whatever happened. */
export async function withUnitLink<T>(
  unit: UnitConfig,
  context: Commissioning,
  use: (link: UnitLink) => Promise<T>,
): Promise<T> {
  const link = await createLink(unit, context);
  try {
    await link.connect();
    return await use(link);
  } finally {
    await link.close();
  }
}
