/**
 * Values between OPC UA and plantbridge: a DataValue becomes a Reading (number or boolean,
 * quality, reason, time); a value to write is checked against the tag and becomes a Variant
 * of the tag's data type.
 */
import { DataType, type DataValue, type VariantOptions } from "node-opcua-client";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { OpcuaDataType, OpcuaTagConfig } from "../../schemas/plant-types.ts";
import type { Reading, ReadingStamp, TagValue } from "../types.ts";
import { severityOf, statusName } from "./status.ts";

function timeOf(dv: DataValue, now: number): number {
  const t = dv.sourceTimestamp ?? dv.serverTimestamp;
  if (t instanceof Date) {
    const ms = t.getTime();
    // node-opcua decodes "no timestamp" as null, and OPC UA's minimum date (1601) as a Date.
    if (Number.isFinite(ms) && ms > 0) return ms;
  }
  return now;
}

/** A scalar Variant value as a number or boolean, or why it cannot be one. */
function scalarOf(dataType: DataType, value: unknown): { value: TagValue } | { reason: string } {
  if (typeof value === "boolean") return { value };
  if (typeof value === "number") {
    return Number.isFinite(value) ? { value } : { reason: `value is not finite (${value})` };
  }
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? { value: n } : { reason: `value ${value} is beyond ±2^53` };
  }
  // node-opcua encodes Int64/UInt64 as [high, low] 32-bit words.
  if (
    (dataType === DataType.Int64 || dataType === DataType.UInt64) &&
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === "number" &&
    typeof value[1] === "number"
  ) {
    const high = dataType === DataType.Int64 ? value[0] | 0 : value[0] >>> 0;
    const n = high * 2 ** 32 + (value[1] >>> 0);
    return Number.isSafeInteger(n) ? { value: n } : { reason: `value is beyond ±2^53` };
  }
  return { reason: `value of type ${DataType[dataType] ?? dataType} is not a number or boolean` };
}

/**
 * Good status → good quality with the value; Uncertain or Bad → bad quality with the status
 * name as the reason (an uncertain value must not drive a set point). `time` is the source
 * timestamp, else the server's, else `now`.
 */
export function readingFromDataValue(dv: DataValue, received: ReadingStamp): Reading {
  const at = { time: timeOf(dv, received.time), receivedAt: received.receivedAt };
  const severity = severityOf(dv.statusCode);
  if (severity !== "good") {
    return {
      value: null,
      quality: "bad",
      reason: statusName(dv.statusCode),
      code: ErrorCode.OPCUA_BAD_STATUS,
      ...at,
    };
  }
  const variant = dv.value;
  if (variant.arrayType !== undefined && variant.arrayType !== 0 /* Scalar */) {
    return {
      value: null,
      quality: "bad",
      reason: "value is an array, not a scalar",
      code: ErrorCode.BAD_INPUT,
      ...at,
    };
  }
  const scalar = scalarOf(variant.dataType, variant.value);
  if ("reason" in scalar)
    return { value: null, quality: "bad", reason: scalar.reason, code: ErrorCode.BAD_INPUT, ...at };
  return { value: scalar.value, quality: "good", ...at };
}

/** A bad Reading for a tag that could not be asked for (e.g. its node id did not resolve). */
export function badReading(reason: string, at: ReadingStamp): Reading {
  return { value: null, quality: "bad", reason, ...at };
}

const INTEGER_RANGES: Partial<Record<OpcuaDataType, readonly [number, number]>> = {
  SByte: [-128, 127],
  Byte: [0, 255],
  Int16: [-32768, 32767],
  UInt16: [0, 65535],
  Int32: [-2147483648, 2147483647],
  UInt32: [0, 4294967295],
};

const FLOAT_MAX = 3.4028234663852886e38;

/**
 * Checks a value against a writable tag and returns the Variant to send. Refuses, before
 * anything is sent: a read-only tag (PB_ERR_NOT_WRITABLE), a value of the wrong kind, not
 * finite or not whole for an integer type (PB_ERR_BAD_INPUT), a value outside the tag's
 * limits or its data type's range (PB_ERR_OUT_OF_LIMITS).
 */
export function variantForWrite(unit: string, tag: OpcuaTagConfig, value: TagValue): VariantOptions {
  const origin = { unit, tag: tag.name };
  const limits = tag.writable;
  if (limits === undefined) {
    throw new PlantbridgeError(ErrorCode.NOT_WRITABLE, "tag is not writable", origin);
  }
  const dataType = tag.dataType;
  if (dataType === "Boolean") {
    let b: boolean;
    if (typeof value === "boolean") b = value;
    else if (value === 0 || value === 1) b = value === 1;
    else
      throw new PlantbridgeError(
        ErrorCode.BAD_INPUT,
        `a Boolean tag takes true/false (or 0/1), got ${value}`,
        origin,
      );
    const n = b ? 1 : 0;
    if (n < limits.min || n > limits.max) {
      throw new PlantbridgeError(
        ErrorCode.OUT_OF_LIMITS,
        `${b} is outside the limits [${limits.min}, ${limits.max}]`,
        origin,
      );
    }
    return { dataType: DataType.Boolean, value: b };
  }
  if (typeof value !== "number") {
    throw new PlantbridgeError(
      ErrorCode.BAD_INPUT,
      `a ${dataType} tag takes a number, got ${String(value)}`,
      origin,
    );
  }
  if (!Number.isFinite(value)) {
    throw new PlantbridgeError(ErrorCode.BAD_INPUT, `value is not finite (${value})`, origin);
  }
  if (value < limits.min || value > limits.max) {
    throw new PlantbridgeError(
      ErrorCode.OUT_OF_LIMITS,
      `${value} is outside the limits [${limits.min}, ${limits.max}]`,
      origin,
    );
  }
  const range = INTEGER_RANGES[dataType];
  if (range !== undefined) {
    if (!Number.isInteger(value)) {
      throw new PlantbridgeError(
        ErrorCode.BAD_INPUT,
        `a ${dataType} tag takes whole numbers, got ${value}`,
        origin,
      );
    }
    if (value < range[0] || value > range[1]) {
      throw new PlantbridgeError(
        ErrorCode.OUT_OF_LIMITS,
        `${value} is outside the ${dataType} range [${range[0]}, ${range[1]}]`,
        origin,
      );
    }
  } else if (dataType === "Float" && Math.abs(value) > FLOAT_MAX) {
    throw new PlantbridgeError(ErrorCode.OUT_OF_LIMITS, `${value} is outside the Float range`, origin);
  }
  return { dataType: DataType[dataType], value };
}
