// Shared set-up for the Modbus integration tests: a PEMEL simulator on a free loopback port and links to it.
import { createModbusLink } from "../../../adapters/modbus/modbus-link.ts";
import { createModbusLinks } from "../../../adapters/modbus/modbus-links.ts";
import type { UnitLink } from "../../../adapters/types.ts";
import type { PlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import type { ModbusUnitConfig } from "../../../schemas/plant-types.ts";
import {
  type PemelSimulator,
  type PemelSimulatorOptions,
  startPemelSimulator,
} from "../../../simulators/pemel/index.ts";
import { pemelUnit } from "../../unit/modbus/fixtures.ts";

export interface TestLink {
  link: UnitLink;
  /** Every `lost` the link reported, in order. */
  lost: PlantbridgeError[];
  /** Resolves with the next `lost`. */
  nextLost(): Promise<PlantbridgeError>;
}

/** A link to the unit: a connection of its own, or (`connection: shared`) a seat on a gateway of its own. */
export function linkTo(unit: ModbusUnitConfig): TestLink {
  const link =
    unit.connection === "shared"
      ? createModbusLinks({ log: silentLog() }).link(unit)
      : createModbusLink(unit, { log: silentLog() });
  const lost: PlantbridgeError[] = [];
  const waiters: ((e: PlantbridgeError) => void)[] = [];
  link.onLost((e) => {
    lost.push(e);
    for (const w of waiters.splice(0)) w(e);
  });
  return { link, lost, nextLost: () => new Promise((resolve) => waiters.push(resolve)) };
}

/** A simulator that only moves when the test calls `step()`. */
export function startSimulator(options: PemelSimulatorOptions = {}): Promise<PemelSimulator> {
  return startPemelSimulator({ tickMs: 0, ...options });
}

export function unitFor(sim: PemelSimulator, extra: Partial<ModbusUnitConfig> = {}): ModbusUnitConfig {
  return pemelUnit(sim.port, extra);
}

/** Polls `condition` until it holds or the deadline passes (for states no event announces). */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  deadlineMs = 5000,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not reached before the deadline");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The rejection's code, or "resolved". */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (e) {
    return typeof e === "object" && e !== null && "code" in e ? String(e.code) : `uncoded: ${String(e)}`;
  }
}
