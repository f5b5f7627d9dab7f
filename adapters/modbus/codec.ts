/**
 * Register codec: turns the 16-bit words a Modbus unit serves into engineering values and back.
 * Pure functions, no I/O. Words are given in wire order (as they come off the bus, register by
 * register); the tag's word order says how the value's bytes are laid out over them.
 *
 * Byte orders, for a 32-bit value whose big-endian bytes are A B C D (A most significant):
 *   ABCD  wire bytes A B C D   (Modbus default: big-endian words, high word first)
 *   CDAB  wire bytes C D A B   (low word first)
 *   BADC  wire bytes B A D C   (bytes swapped inside each word)
 *   DCBA  wire bytes D C B A   (little-endian)
 * The same names apply to 64-bit values (ABCD = ABCDEFGH, CDAB = GHEFCDAB, BADC = BADCFEHG,
 * DCBA = HGFEDCBA) and to 16-bit values (ABCD and CDAB = AB; BADC and DCBA = BA).
 * `bool` and `bit` tags ignore the word order: they look at the register as received.
 */
import { ErrorCode, type ErrorOrigin, PlantbridgeError } from "../../lib/errors.ts";
import {
  type ModbusArea,
  type ModbusDataType,
  modbusRegisterWidth,
  type WordOrder,
} from "../../schemas/plant-types.ts";
import type { TagValue } from "../types.ts";

/** What the codec needs to know about a tag. `ModbusTagConfig` satisfies it. */
export interface ValueFormat {
  type: ModbusDataType;
  wordOrder: WordOrder;
  scale: number;
  offset: number;
  /** Bit index 0..15, only for `bit`. */
  bit?: number;
}

/** Registers (or coils) one value of each type occupies. */
export const registerWidth = modbusRegisterWidth;

/** Raw (before scale/offset) range of each numeric type, inclusive. */
export const rawRange = {
  int16: { min: -0x8000, max: 0x7fff },
  uint16: { min: 0, max: 0xffff },
  int32: { min: -0x80000000, max: 0x7fffffff },
  uint32: { min: 0, max: 0xffffffff },
  float32: { min: -3.4028234663852886e38, max: 3.4028234663852886e38 },
  float64: { min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
} as const;

type NumericType = keyof typeof rawRange;

const integerTypes: ReadonlySet<ModbusDataType> = new Set(["int16", "uint16", "int32", "uint32"]);

/** Areas that hold single bits (coils, discrete inputs) rather than 16-bit registers. */
export function isBitArea(area: ModbusArea): boolean {
  return area === "coil" || area === "discrete";
}

export function isBooleanType(type: ModbusDataType): type is "bool" | "bit" {
  return type === "bool" || type === "bit";
}

/** Registers occupied by a tag: 1 for anything in a coil/discrete area. */
export function widthOf(tag: { area: ModbusArea; type: ModbusDataType }): number {
  return isBitArea(tag.area) ? 1 : registerWidth[tag.type];
}

/**
 * Reorders bytes between the value's big-endian layout and the wire layout. Every order is its
 * own inverse, so the same function serves encode and decode.
 */
export function reorderBytes(bytes: Uint8Array, order: WordOrder): Uint8Array {
  const n = bytes.length;
  const out = new Uint8Array(n);
  const words = n / 2;
  for (let w = 0; w < words; w++) {
    const hi = bytes[2 * w] ?? 0;
    const lo = bytes[2 * w + 1] ?? 0;
    const swapWords = order === "CDAB" || order === "DCBA";
    const swapBytes = order === "BADC" || order === "DCBA";
    const target = swapWords ? words - 1 - w : w;
    out[2 * target] = swapBytes ? lo : hi;
    out[2 * target + 1] = swapBytes ? hi : lo;
  }
  return out;
}

function bytesToWords(bytes: Uint8Array): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return words;
}

function rawFromBytes(type: NumericType, view: DataView): number {
  switch (type) {
    case "int16":
      return view.getInt16(0);
    case "uint16":
      return view.getUint16(0);
    case "int32":
      return view.getInt32(0);
    case "uint32":
      return view.getUint32(0);
    case "float32":
      return view.getFloat32(0);
    case "float64":
      return view.getFloat64(0);
  }
}

function rawToBytes(type: NumericType, raw: number, view: DataView): void {
  switch (type) {
    case "int16":
      view.setInt16(0, raw);
      return;
    case "uint16":
      view.setUint16(0, raw);
      return;
    case "int32":
      view.setInt32(0, raw);
      return;
    case "uint32":
      view.setUint32(0, raw);
      return;
    case "float32":
      view.setFloat32(0, raw);
      return;
    case "float64":
      view.setFloat64(0, raw);
      return;
  }
}

/** Round half away from zero: symmetric for negative set points. */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/**
 * Words (wire order) → engineering value. `words` must hold exactly the tag's width
 * (1 for bool/bit/16-bit, 2 for 32-bit, 4 for float64).
 */
export function decodeRegisters(
  words: readonly number[],
  format: ValueFormat,
  origin: ErrorOrigin = {},
): TagValue {
  const width = registerWidth[format.type];
  if (words.length !== width) {
    throw new PlantbridgeError(
      ErrorCode.MODBUS_PROTOCOL,
      `${format.type} needs ${width} register(s), got ${words.length}`,
      origin,
    );
  }
  return decodeRegistersAt(words, 0, format);
}

/** Eight bytes reused by every decode (decoding is synchronous), so a value costs no allocation. */
const scratch = new DataView(new ArrayBuffer(8));

/**
 * `decodeRegisters` of the tag's words at `words[from]` onwards, without copying them out: the
 * storage cycle decodes every tag of a reply this way. The caller has checked that the tag's
 * width fits (`from + widthOf(format) <= words.length`).
 */
export function decodeRegistersAt(words: readonly number[], from: number, format: ValueFormat): TagValue {
  const first = words[from] ?? 0;
  if (format.type === "bool") return first !== 0;
  if (format.type === "bit") return ((first >>> (format.bit ?? 0)) & 1) === 1;
  // The words into the value's big-endian layout, as reorderBytes does (each order is its own inverse).
  const width = registerWidth[format.type];
  const swapWords = format.wordOrder === "CDAB" || format.wordOrder === "DCBA";
  const swapBytes = format.wordOrder === "BADC" || format.wordOrder === "DCBA";
  for (let w = 0; w < width; w++) {
    const word = words[from + w] ?? 0;
    const hi = (word >>> 8) & 0xff;
    const lo = word & 0xff;
    const target = swapWords ? width - 1 - w : w;
    scratch.setUint8(2 * target, swapBytes ? lo : hi);
    scratch.setUint8(2 * target + 1, swapBytes ? hi : lo);
  }
  const raw = rawFromBytes(format.type, scratch);
  if (format.scale === 1 && format.offset === 0) return raw;
  return raw * format.scale + format.offset;
}

/**
 * Engineering value → words in wire order. The inverse of `decodeRegisters`: raw =
 * (value - offset) / scale, rounded half away from zero for integer types, and checked
 * against the raw type's range (PB_ERR_OUT_OF_LIMITS). Non-finite numbers are refused
 * (PB_ERR_OUT_OF_LIMITS); a boolean for a numeric type or a number other than 0/1 for a
 * boolean type is PB_ERR_BAD_INPUT.
 */
export function encodeRegisters(value: TagValue, format: ValueFormat, origin: ErrorOrigin = {}): number[] {
  if (isBooleanType(format.type)) {
    const on = booleanOf(value, origin);
    if (format.type === "bit") {
      throw new PlantbridgeError(
        ErrorCode.UNSUPPORTED,
        "a single bit of a register cannot be written on its own (it would need a read-modify-write)",
        origin,
      );
    }
    return [on ? 1 : 0];
  }
  if (typeof value !== "number") {
    throw new PlantbridgeError(
      ErrorCode.BAD_INPUT,
      `${format.type} needs a number, got ${typeof value}`,
      origin,
    );
  }
  if (!Number.isFinite(value)) {
    throw new PlantbridgeError(ErrorCode.OUT_OF_LIMITS, `value ${value} is not a finite number`, origin);
  }
  if (format.scale === 0 || !Number.isFinite(format.scale) || !Number.isFinite(format.offset)) {
    throw new PlantbridgeError(ErrorCode.CONFIG, `scale ${format.scale} cannot be inverted`, origin);
  }
  const type = format.type;
  let raw = format.scale === 1 && format.offset === 0 ? value : (value - format.offset) / format.scale;
  // Rounding at 15 significant digits first drops binary noise: 12.35 / 0.1 is 123.49999999999999, meant as 123.5.
  if (integerTypes.has(type)) raw = roundHalfAway(Number(raw.toPrecision(15)));
  if (Object.is(raw, -0)) raw = 0;
  const range = rawRange[type];
  if (!(raw >= range.min && raw <= range.max)) {
    throw new PlantbridgeError(
      ErrorCode.OUT_OF_LIMITS,
      `value ${value} gives raw ${raw}, outside ${type} range ${range.min}..${range.max}`,
      origin,
    );
  }
  const bytes = new Uint8Array(registerWidth[type] * 2);
  rawToBytes(type, raw, new DataView(bytes.buffer));
  return bytesToWords(reorderBytes(bytes, format.wordOrder));
}

/** true/false, or the numbers 1/0, as a boolean; anything else is PB_ERR_BAD_INPUT. */
export function booleanOf(value: TagValue, origin: ErrorOrigin = {}): boolean {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  throw new PlantbridgeError(
    ErrorCode.BAD_INPUT,
    `a boolean tag takes true/false (or 1/0), got ${value}`,
    origin,
  );
}
