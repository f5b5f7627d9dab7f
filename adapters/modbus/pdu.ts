/**
 * Modbus TCP frames for the shared connection (gateway-connection.ts), which owns its transaction
 * ids across every unit id it carries and so cannot use a jsmodbus client (one unit id, one
 * transaction counter and one queue per client). Builds request PDUs and MBAP frames, and reads the
 * values out of a reply the frame guard has already checked (protocol id, ids, length, function code,
 * byte count and write echo). Pure.
 */
import type { ModbusArea } from "../../schemas/plant-types.ts";
import type { AreaValues } from "./unit-tags.ts";

const readFunction = { coil: 1, discrete: 2, holding: 3, input: 4 } as const satisfies Record<
  ModbusArea,
  number
>;

/** FC1..FC4 for `count` registers or bits from `address`. */
export function readRequestPdu(area: ModbusArea, address: number, count: number): Buffer {
  const pdu = Buffer.alloc(5);
  pdu.writeUInt8(readFunction[area], 0);
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(count, 3);
  return pdu;
}

/**
 * The write of one tag: FC5 for a coil (`words[0]` 1 or 0), FC6 for one register, FC16 for several.
 * The words come from the unit's checked, encoded value (unit-tags.ts `checkWrite`).
 */
export function writeRequestPdu(area: ModbusArea, address: number, words: readonly number[]): Buffer {
  if (area === "coil") {
    const pdu = Buffer.alloc(5);
    pdu.writeUInt8(5, 0);
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(words[0] === 1 ? 0xff00 : 0x0000, 3);
    return pdu;
  }
  if (words.length === 1) {
    const pdu = Buffer.alloc(5);
    pdu.writeUInt8(6, 0);
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(words[0] ?? 0, 3);
    return pdu;
  }
  const pdu = Buffer.alloc(6 + 2 * words.length);
  pdu.writeUInt8(16, 0);
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(words.length, 3);
  pdu.writeUInt8(2 * words.length, 5);
  words.forEach((word, i) => {
    pdu.writeUInt16BE(word, 6 + 2 * i);
  });
  return pdu;
}

/** The MBAP frame of a request: transaction id, protocol 0, length, unit id, then the PDU. */
export function mbapFrame(transactionId: number, unitId: number, pdu: Buffer): Buffer {
  const frame = Buffer.alloc(7 + pdu.length);
  frame.writeUInt16BE(transactionId, 0);
  frame.writeUInt16BE(0, 2);
  frame.writeUInt16BE(1 + pdu.length, 4);
  frame.writeUInt8(unitId, 6);
  pdu.copy(frame, 7);
  return frame;
}

/** The exception code of a reply PDU (function code with bit 7 set), or undefined for a normal reply. */
export function exceptionCodeOf(pdu: Buffer): number | undefined {
  return (pdu.readUInt8(0) & 0x80) !== 0 ? pdu.readUInt8(1) : undefined;
}

/** The values of a checked normal reply to a read of `count` registers or bits. */
export function readReplyValues(area: ModbusArea, count: number, pdu: Buffer): AreaValues {
  const byteCount = pdu.readUInt8(1);
  const data = pdu.subarray(2, 2 + byteCount);
  if (area === "coil" || area === "discrete") {
    const bits: boolean[] = [];
    for (let i = 0; i < count && i >> 3 < data.length; i++)
      bits.push(((data[i >> 3] ?? 0) >> (i & 7)) & 1 ? true : false);
    return { kind: "bits", bits };
  }
  const words: number[] = [];
  for (let i = 0; i + 1 < data.length; i += 2) words.push(data.readUInt16BE(i));
  return { kind: "words", words };
}
