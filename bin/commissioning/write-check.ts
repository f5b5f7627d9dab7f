/**
 * What a commissioning write must pass before anything is sent — before the unit is even
 * connected: the control loop's rules (the tag is declared writable, the value is within its
 * `writable: {min, max}`), then the protocol's own (area, data type, range), the same functions
 * the adapters run before every write.
 */

import { checkModbusWrite } from "../../adapters/modbus/write-check.ts";
import type { TagValue } from "../../adapters/types.ts";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { TagConfig, UnitConfig } from "../../schemas/plant-types.ts";
import { UsageError } from "../usage-error.ts";

/** `true`/`false` (or `on`/`off`) for booleans, else a number (`30`, `12.5`, `-3`, `0x10`). */
export function parseTagValue(text: string): TagValue {
  const word = text.trim().toLowerCase();
  if (word === "true" || word === "on") return true;
  if (word === "false" || word === "off") return false;
  const n = word === "" ? Number.NaN : Number(word);
  if (!Number.isFinite(n)) throw new UsageError(`"${text}" is not a number or true/false`);
  return n;
}

export async function checkWrite(unit: UnitConfig, tag: TagConfig, value: TagValue): Promise<void> {
  const origin = { unit: unit.name, tag: tag.name };
  const limits = tag.writable;
  if (limits === undefined) {
    throw new PlantbridgeError(
      ErrorCode.NOT_WRITABLE,
      "tag is not declared writable (no `writable: { min, max }` in the plant file); nothing was sent",
      origin,
    );
  }
  const number = typeof value === "boolean" ? Number(value) : value;
  if (!Number.isFinite(number) || number < limits.min || number > limits.max) {
    throw new PlantbridgeError(
      ErrorCode.OUT_OF_LIMITS,
      `${value} is outside the limits [${limits.min}, ${limits.max}]; nothing was sent`,
      origin,
    );
  }
  if (unit.protocol === "modbus-tcp") {
    const modbusTag = unit.tags.find((t) => t.name === tag.name);
    if (modbusTag !== undefined) checkModbusWrite(modbusTag, value, origin);
  } else {
    const opcuaTag = unit.tags.find((t) => t.name === tag.name);
    const { variantForWrite } = await import("../../adapters/opcua/values.ts");
    if (opcuaTag !== undefined) variantForWrite(unit.name, opcuaTag, value);
  }
}
