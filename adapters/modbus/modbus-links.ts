/**
 * The Modbus links of one plant: a connection of its own for each `connection: separate` unit
 * (modbus-link.ts), and one shared connection per host:port for the `connection: shared` units
 * (modbus-gateway.ts, shared-link.ts). Units share a connection when they name the same `host`
 * text and `port`; a separate unit on the same host:port keeps its own connection beside it.
 */
import { type Clock, systemClock } from "../../lib/clock.ts";
import type { Log } from "../../lib/log.ts";
import type { ModbusUnitConfig } from "../../schemas/plant-types.ts";
import type { UnitLink } from "../types.ts";
import { createModbusGateway, type ModbusGateway } from "./modbus-gateway.ts";
import { createModbusLink } from "./modbus-link.ts";
import { createSharedModbusLink } from "./shared-link.ts";

export interface ModbusLinks {
  /** A new link for the unit (one per unit: a shared unit takes its seat on its gateway). */
  link(unit: ModbusUnitConfig): UnitLink;
  /** The shared connections so far, by `host:port`. */
  readonly gateways: ReadonlyMap<string, ModbusGateway>;
}

export function createModbusLinks(deps: { log: Log; clock?: Clock }): ModbusLinks {
  const clock = deps.clock ?? systemClock;
  const gateways = new Map<string, ModbusGateway>();

  function gatewayOf(unit: ModbusUnitConfig): ModbusGateway {
    const key = `${unit.host}:${unit.port}`;
    let gateway = gateways.get(key);
    if (gateway === undefined) {
      gateway = createModbusGateway(unit.host, unit.port, { log: deps.log, clock });
      gateways.set(key, gateway);
    }
    return gateway;
  }

  return {
    link(unit) {
      if (unit.connection !== "shared") return createModbusLink(unit, { log: deps.log, clock });
      const seat = gatewayOf(unit).seat({
        name: unit.name,
        unitId: unit.unitId,
        timeoutMs: unit.timeoutMs,
        demotion: unit.demotion,
      });
      return createSharedModbusLink(unit, seat, { log: deps.log, clock });
    },
    gateways,
  };
}
