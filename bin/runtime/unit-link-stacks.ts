/**
 * The protocol stacks of a plant's units, loaded only when the plant has a unit of that protocol:
 * a Modbus-only plant never loads node-opcua (about 100 MB of RSS), an OPC UA-only plant never
 * jsmodbus. Each stack is imported once per process (the module cache keeps it) at the point a
 * plant that needs it starts; `createLink` stays synchronous for the plant machine.
 */
import type { ModbusLinks } from "../../adapters/modbus/modbus-links.ts";
import type { createOpcuaLink } from "../../adapters/opcua/opcua-link.ts";
import type { UnitLink } from "../../adapters/types.ts";
import type { Clock } from "../../lib/clock.ts";
import type { Log } from "../../lib/log.ts";
import type { PlantConfig, UnitConfig } from "../../schemas/plant-types.ts";

export interface UnitLinkStacks {
  /** The unit's real link; throws for a protocol the plant had no unit of when the stacks were loaded. */
  link(unit: UnitConfig): UnitLink;
}

interface OpcuaStack {
  createOpcuaLink: typeof createOpcuaLink;
  routeOpcuaLibraryLogs: (log: Log) => void;
}

let opcuaStack: Promise<OpcuaStack> | undefined;

/** node-opcua and the OPC UA link, imported once per process; a failed import is tried again next time. */
function loadOpcuaStack(): Promise<OpcuaStack> {
  opcuaStack ??= Promise.all([
    import("./opcua-library-log.ts"),
    import("../../adapters/opcua/opcua-link.ts"),
  ]).then(([{ routeOpcuaLibraryLogs }, { createOpcuaLink }]) => ({ createOpcuaLink, routeOpcuaLibraryLogs }));
  opcuaStack.catch(() => {
    opcuaStack = undefined;
  });
  return opcuaStack;
}

/** Loads the stacks `plant`'s units need; the Modbus links are one set per plant (shared connections). */
export async function loadUnitLinkStacks(
  plant: PlantConfig,
  deps: { log: Log; clock: Clock; pkiDir: string },
): Promise<UnitLinkStacks> {
  const protocols = new Set(plant.units.map((u) => u.protocol));
  const [modbus, opcua] = await Promise.all([
    protocols.has("modbus-tcp")
      ? import("../../adapters/modbus/modbus-links.ts").then(
          (m): ModbusLinks => m.createModbusLinks({ log: deps.log, clock: deps.clock }),
        )
      : undefined,
    protocols.has("opcua") ? loadOpcuaStack() : undefined,
  ]);
  // node-opcua prints its warnings and errors with console.log: into this plant's log instead.
  opcua?.routeOpcuaLibraryLogs(deps.log);
  return {
    link(unit) {
      if (unit.protocol === "modbus-tcp" && modbus !== undefined) return modbus.link(unit);
      if (unit.protocol === "opcua" && opcua !== undefined)
        return opcua.createOpcuaLink(unit, { log: deps.log, pkiDir: deps.pkiDir, clock: deps.clock });
      throw new Error(`unit ${unit.name}: the ${unit.protocol} stack was not loaded for this plant`);
    },
  };
}
