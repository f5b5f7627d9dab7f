/**
 * Modbus TCP framing for the PEMEL simulator: splits the byte stream into MBAP frames, reads what a
 * request asks for (function, area, address range) and builds exception replies. The simulator
 * decides per frame (faults, unit id, limits) before jsmodbus serves the registers.
 */
import type { ModbusArea } from "../../schemas/plant-types.ts";

export const FunctionCode = {
  readCoils: 1,
  readDiscreteInputs: 2,
  readHoldingRegisters: 3,
  readInputRegisters: 4,
  writeSingleCoil: 5,
  writeSingleRegister: 6,
  writeMultipleCoils: 15,
  writeMultipleRegisters: 16,
} as const;

const mbapHeaderLength = 7;
/** MBAP length field: unit id + PDU, at most 1 + 253. */
const maxLengthField = 254;

export interface Frame {
  transactionId: number;
  unitId: number;
  functionCode: number;
  /** The whole frame, header included. */
  bytes: Buffer;
}

/** What a request touches, for fault ranges, limits and the served log. */
export interface RequestScope {
  access: "read" | "write";
  area: ModbusArea;
  address: number;
  count: number;
  /** Written registers (words) or coils (0/1), for writes. */
  values: number[];
}

export type ParsedRequest = { ok: true; scope: RequestScope } | { ok: false; exceptionCode: number };

/** Accumulates bytes and hands out complete frames. A corrupt header makes `push` return "corrupt". */
export function createFrameReader(): { push(data: Buffer): Frame[] | "corrupt" } {
  let pending: Buffer = Buffer.alloc(0);
  return {
    push(data) {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      const frames: Frame[] = [];
      while (pending.length >= mbapHeaderLength) {
        const protocol = pending.readUInt16BE(2);
        const length = pending.readUInt16BE(4);
        if (protocol !== 0 || length < 2 || length > maxLengthField) return "corrupt";
        const total = 6 + length;
        if (pending.length < total) break;
        const bytes = Buffer.from(pending.subarray(0, total));
        pending = pending.subarray(total);
        frames.push({
          transactionId: bytes.readUInt16BE(0),
          unitId: bytes.readUInt8(6),
          functionCode: bytes.readUInt8(7),
          bytes,
        });
      }
      return frames;
    },
  };
}

const readAreas: Readonly<Record<number, ModbusArea>> = {
  [FunctionCode.readCoils]: "coil",
  [FunctionCode.readDiscreteInputs]: "discrete",
  [FunctionCode.readHoldingRegisters]: "holding",
  [FunctionCode.readInputRegisters]: "input",
};

/**
 * Reads the request's scope, checking the protocol's limits: unknown function → exception 1,
 * bad quantity or malformed body → 3, range past the 65 536-entry address space → 2.
 */
export function parseRequest(frame: Frame): ParsedRequest {
  const pdu = frame.bytes.subarray(mbapHeaderLength);
  const fc = frame.functionCode;
  const readArea = readAreas[fc];
  if (readArea !== undefined) {
    if (pdu.length !== 5) return { ok: false, exceptionCode: 3 };
    const address = pdu.readUInt16BE(1);
    const count = pdu.readUInt16BE(3);
    const max = readArea === "coil" || readArea === "discrete" ? 2000 : 125;
    if (count < 1 || count > max) return { ok: false, exceptionCode: 3 };
    if (address + count > 0x10000) return { ok: false, exceptionCode: 2 };
    return { ok: true, scope: { access: "read", area: readArea, address, count, values: [] } };
  }
  switch (fc) {
    case FunctionCode.writeSingleCoil: {
      if (pdu.length !== 5) return { ok: false, exceptionCode: 3 };
      const value = pdu.readUInt16BE(3);
      if (value !== 0xff00 && value !== 0) return { ok: false, exceptionCode: 3 };
      const address = pdu.readUInt16BE(1);
      return {
        ok: true,
        scope: { access: "write", area: "coil", address, count: 1, values: [value ? 1 : 0] },
      };
    }
    case FunctionCode.writeSingleRegister: {
      if (pdu.length !== 5) return { ok: false, exceptionCode: 3 };
      const address = pdu.readUInt16BE(1);
      return {
        ok: true,
        scope: { access: "write", area: "holding", address, count: 1, values: [pdu.readUInt16BE(3)] },
      };
    }
    case FunctionCode.writeMultipleRegisters: {
      if (pdu.length < 6) return { ok: false, exceptionCode: 3 };
      const address = pdu.readUInt16BE(1);
      const count = pdu.readUInt16BE(3);
      const byteCount = pdu.readUInt8(5);
      if (count < 1 || count > 123 || byteCount !== count * 2 || pdu.length !== 6 + byteCount) {
        return { ok: false, exceptionCode: 3 };
      }
      if (address + count > 0x10000) return { ok: false, exceptionCode: 2 };
      const values: number[] = [];
      for (let i = 0; i < count; i++) values.push(pdu.readUInt16BE(6 + 2 * i));
      return { ok: true, scope: { access: "write", area: "holding", address, count, values } };
    }
    case FunctionCode.writeMultipleCoils: {
      if (pdu.length < 6) return { ok: false, exceptionCode: 3 };
      const address = pdu.readUInt16BE(1);
      const count = pdu.readUInt16BE(3);
      const byteCount = pdu.readUInt8(5);
      if (count < 1 || count > 1968 || byteCount !== Math.ceil(count / 8) || pdu.length !== 6 + byteCount) {
        return { ok: false, exceptionCode: 3 };
      }
      if (address + count > 0x10000) return { ok: false, exceptionCode: 2 };
      const values: number[] = [];
      for (let i = 0; i < count; i++) values.push(((pdu.readUInt8(6 + (i >> 3)) >> (i & 7)) & 1) as number);
      return { ok: true, scope: { access: "write", area: "coil", address, count, values } };
    }
    default:
      return { ok: false, exceptionCode: 1 };
  }
}

/** The exception reply to `frame`: same transaction and unit id, function code | 0x80, the code. */
export function exceptionReply(frame: Frame, code: number): Buffer {
  const reply = Buffer.alloc(9);
  reply.writeUInt16BE(frame.transactionId, 0);
  reply.writeUInt16BE(0, 2);
  reply.writeUInt16BE(3, 4);
  reply.writeUInt8(frame.unitId, 6);
  reply.writeUInt8((frame.functionCode | 0x80) & 0xff, 7);
  reply.writeUInt8(code, 8);
  return reply;
}

/** True when [address, address+count) meets the inclusive range [from, to]. */
export function overlaps(scope: RequestScope, range: readonly [number, number]): boolean {
  const [from, to] = range;
  return scope.address <= to && scope.address + scope.count - 1 >= from;
}
