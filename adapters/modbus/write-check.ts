/**
 * What a Modbus write must pass before anything is sent: the tag is declared writable, its area can
 * be written, the value is of the right kind, within the tag's limits and fits its type. Pure: the
 * link runs it before every write, and the commissioning `write` command before it even connects.
 */
import { ErrorCode, type ErrorOrigin, PlantbridgeError } from "../../lib/errors.ts";
import type { ModbusTagConfig } from "../../schemas/plant-types.ts";
import type { TagValue } from "../types.ts";
import { booleanOf, encodeRegisters, isBitArea } from "./codec.ts";

/** The words (or the coil, as 0/1) to send for `value`; throws a coded error naming unit and tag. */
export function checkModbusWrite(tag: ModbusTagConfig, value: TagValue, origin: ErrorOrigin): number[] {
  if (tag.writable === undefined) {
    throw new PlantbridgeError(ErrorCode.NOT_WRITABLE, "tag is not declared writable", origin);
  }
  if (tag.area === "input" || tag.area === "discrete") {
    throw new PlantbridgeError(ErrorCode.NOT_WRITABLE, `${tag.area} area is read-only in Modbus`, origin);
  }
  if (tag.type === "bit") {
    throw new PlantbridgeError(
      ErrorCode.UNSUPPORTED,
      "a single bit of a register cannot be written on its own (it would need a read-modify-write)",
      origin,
    );
  }
  if (isBitArea(tag.area) || tag.type === "bool") {
    return [booleanOf(value, origin) ? 1 : 0];
  }
  if (typeof value !== "number") {
    throw new PlantbridgeError(
      ErrorCode.BAD_INPUT,
      `${tag.type} needs a number, got ${typeof value}`,
      origin,
    );
  }
  if (!Number.isFinite(value) || value < tag.writable.min || value > tag.writable.max) {
    throw new PlantbridgeError(
      ErrorCode.OUT_OF_LIMITS,
      `value ${value} outside the write limits ${tag.writable.min}..${tag.writable.max}`,
      origin,
    );
  }
  return encodeRegisters(value, tag, origin);
}
