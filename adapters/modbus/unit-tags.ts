/**
 * What a Modbus link knows of its unit's tags, whatever carries the requests (a connection of its
 * own, modbus-link.ts, or a shared one, shared-link.ts): names looked up, reads planned (and the
 * plans cached), replies decoded into readings, and writes checked and encoded before anything is
 * sent. No I/O.
 */
import { ErrorCode, type ErrorOrigin, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { ModbusTagConfig, ModbusUnitConfig } from "../../schemas/plant-types.ts";
import type { Reading, ReadingStamp, TagValue } from "../types.ts";
import { decodeRegistersAt, isBitArea, widthOf } from "./codec.ts";
import { type PlannedRequest, planRequests } from "./request-plan.ts";
import { checkModbusWrite } from "./write-check.ts";

/** Raw result of one planned read: register words or coil bits, in address order. */
export type AreaValues =
  | { kind: "words"; words: readonly number[] }
  | { kind: "bits"; bits: readonly boolean[] };

export interface UnitTags {
  origin(tag?: string): ErrorOrigin;
  /** The tag's config; PB_ERR_UNKNOWN_TAG for a name the unit does not have. */
  lookUp(name: string): ModbusTagConfig;
  /** The read requests for these tags (cached per set of names). */
  planFor(names: readonly string[]): PlannedRequest[];
  /** One reading per tag of the request from the values the unit served. */
  decode(request: PlannedRequest, values: AreaValues, at: ReadingStamp): Map<string, Reading>;
  /** Every tag of the request read bad with `reason` (and the coded error behind it). */
  bad(request: PlannedRequest, reason: string, at: ReadingStamp, code?: ErrorCode): Map<string, Reading>;
  /** Checks a write before anything is sent; the registers (or the coil as 0/1) to write. */
  checkWrite(name: string, value: TagValue): { tag: ModbusTagConfig; words: number[] };
}

const planCacheLimit = 64;

export function createUnitTags(unit: ModbusUnitConfig): UnitTags {
  const tagsByName = new Map(unit.tags.map((t) => [t.name, t]));
  const planCache = new Map<string, PlannedRequest[]>();
  const origin = (tag?: string): ErrorOrigin =>
    tag === undefined ? { unit: unit.name } : { unit: unit.name, tag };

  function lookUp(name: string): ModbusTagConfig {
    const tag = tagsByName.get(name);
    if (tag === undefined) {
      throw new PlantbridgeError(
        ErrorCode.UNKNOWN_TAG,
        `unit ${unit.name} has no tag "${name}"`,
        origin(name),
      );
    }
    return tag;
  }

  function planFor(names: readonly string[]): PlannedRequest[] {
    const unique = [...new Set(names)].sort();
    const key = unique.join("\n");
    const cached = planCache.get(key);
    if (cached !== undefined) return cached;
    const plan = planRequests(unique.map(lookUp), {
      maxRegisters: unit.maxRegistersPerRequest,
      maxGap: unit.maxGapRegisters,
    });
    if (planCache.size >= planCacheLimit) planCache.clear();
    planCache.set(key, plan);
    return plan;
  }

  function decode(request: PlannedRequest, values: AreaValues, at: ReadingStamp): Map<string, Reading> {
    const readings = new Map<string, Reading>();
    const available = values.kind === "words" ? values.words.length : values.bits.length;
    for (const tag of request.tags) {
      const from = tag.address - request.address;
      const width = widthOf(tag);
      if (from + width > available) {
        readings.set(tag.name, {
          value: null,
          quality: "bad",
          code: ErrorCode.MODBUS_PROTOCOL,
          reason: `short reply: unit served ${available} of ${request.count} ${isBitArea(request.area) ? "bits" : "registers"}`,
          ...at,
        });
        continue;
      }
      // Decoded in place (no copy of the tag's words): the storage cycle does this for every tag.
      const value: TagValue =
        values.kind === "bits" ? values.bits[from] === true : decodeRegistersAt(values.words, from, tag);
      readings.set(tag.name, { value, quality: "good", time: at.time, receivedAt: at.receivedAt });
    }
    return readings;
  }

  function bad(
    request: PlannedRequest,
    reason: string,
    at: ReadingStamp,
    code?: ErrorCode,
  ): Map<string, Reading> {
    return new Map(
      request.tags.map((t): [string, Reading] => [
        t.name,
        { value: null, quality: "bad", reason, ...(code !== undefined ? { code } : {}), ...at },
      ]),
    );
  }

  function checkWrite(name: string, value: TagValue): { tag: ModbusTagConfig; words: number[] } {
    const tag = lookUp(name);
    return { tag, words: checkModbusWrite(tag, value, origin(name)) };
  }

  return { origin, lookUp, planFor, decode, bad, checkWrite };
}
