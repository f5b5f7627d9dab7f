/**
 * Request planner: groups the tags to read into as few Modbus read requests as the limits allow.
 * Pure function, no I/O.
 *
 * Per area (holding, input, coil, discrete), tags are sorted by address and merged into one
 * request while
 *  - they are contiguous or overlap (several `bit` tags of one status word share its register),
 *  - or the gap of unused registers between them is at most `maxGap`,
 *  - and the request stays within `maxRegisters` (registers) or `maxBits` (coils, discretes).
 * A multi-register value is never split over two requests; a tag wider than the cap is a config error.
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { ModbusArea, ModbusTagConfig } from "../../schemas/plant-types.ts";
import { isBitArea, widthOf } from "./codec.ts";

/** Protocol limits of one read request (Modbus application protocol v1.1b3). */
export const protocolLimits = { registers: 125, bits: 2000 } as const;

export interface PlanOptions {
  /** Largest register read (FC3/FC4); capped at 125. */
  maxRegisters: number;
  /** Largest coil/discrete read (FC1/FC2); capped at 2000. Default 2000. */
  maxBits?: number;
  /** Unused registers (or bits) bridged between two tags to merge their requests. */
  maxGap: number;
}

export interface PlannedRequest {
  area: ModbusArea;
  /** First register / coil of the request. */
  address: number;
  /** Registers / coils read. */
  count: number;
  /** Tags decoded from this request, in address order. */
  tags: readonly ModbusTagConfig[];
}

const areaOrder: readonly ModbusArea[] = ["holding", "input", "coil", "discrete"];

/** Plans the read requests for `tags`. Requests come out per area (holding, input, coil, discrete), by address. */
export function planRequests(tags: readonly ModbusTagConfig[], options: PlanOptions): PlannedRequest[] {
  const plans: PlannedRequest[] = [];
  for (const area of areaOrder) {
    const inArea = tags.filter((t) => t.area === area);
    if (inArea.length === 0) continue;
    const cap = isBitArea(area)
      ? Math.min(options.maxBits ?? protocolLimits.bits, protocolLimits.bits)
      : Math.min(options.maxRegisters, protocolLimits.registers);
    if (!(cap >= 1)) {
      throw new PlantbridgeError(ErrorCode.CONFIG, `request size limit ${cap} must be at least 1`);
    }
    const gap = Math.max(0, options.maxGap);
    const sorted = [...inArea].sort((a, b) => a.address - b.address || widthOf(b) - widthOf(a));
    let current: { address: number; end: number; tags: ModbusTagConfig[] } | undefined;
    for (const tag of sorted) {
      const width = widthOf(tag);
      const end = tag.address + width;
      if (!Number.isInteger(tag.address) || tag.address < 0 || end > 0x10000) {
        throw new PlantbridgeError(
          ErrorCode.CONFIG,
          `${area} address ${tag.address} with ${width} register(s) is outside 0..65535`,
          { tag: tag.name },
        );
      }
      if (width > cap) {
        throw new PlantbridgeError(
          ErrorCode.CONFIG,
          `${tag.type} needs ${width} registers, more than the request limit ${cap}`,
          { tag: tag.name },
        );
      }
      if (
        current !== undefined &&
        tag.address - current.end <= gap &&
        Math.max(current.end, end) - current.address <= cap
      ) {
        current.end = Math.max(current.end, end);
        current.tags.push(tag);
        continue;
      }
      if (current !== undefined) plans.push(toRequest(area, current));
      current = { address: tag.address, end, tags: [tag] };
    }
    if (current !== undefined) plans.push(toRequest(area, current));
  }
  return plans;
}

function toRequest(
  area: ModbusArea,
  group: { address: number; end: number; tags: ModbusTagConfig[] },
): PlannedRequest {
  return { area, address: group.address, count: group.end - group.address, tags: group.tags };
}
