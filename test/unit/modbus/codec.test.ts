import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeRegisters,
  encodeRegisters,
  rawRange,
  reorderBytes,
  type ValueFormat,
} from "../../../adapters/modbus/codec.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import type { ModbusDataType, WordOrder } from "../../../schemas/plant-types.ts";

const orders: readonly WordOrder[] = ["ABCD", "CDAB", "BADC", "DCBA"];

function format(
  type: ModbusDataType,
  wordOrder: WordOrder = "ABCD",
  extra: Partial<ValueFormat> = {},
): ValueFormat {
  return { type, wordOrder, scale: 1, offset: 0, ...extra };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isPlantbridgeError(e) ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

/** Register words as they come off the wire, and the value they hold (Telegraf-style table). */
const table: {
  name: string;
  type: ModbusDataType;
  order: WordOrder;
  words: number[];
  value: number | boolean;
  bit?: number;
}[] = [
  // 16-bit: ABCD and CDAB are AB, BADC and DCBA are BA
  { name: "uint16 AB", type: "uint16", order: "ABCD", words: [0x1234], value: 0x1234 },
  { name: "uint16 CDAB = AB", type: "uint16", order: "CDAB", words: [0x1234], value: 0x1234 },
  { name: "uint16 BA", type: "uint16", order: "BADC", words: [0x3412], value: 0x1234 },
  { name: "uint16 DCBA = BA", type: "uint16", order: "DCBA", words: [0x3412], value: 0x1234 },
  { name: "uint16 max", type: "uint16", order: "ABCD", words: [0xffff], value: 65535 },
  { name: "int16 negative", type: "int16", order: "ABCD", words: [0xfb2e], value: -1234 },
  { name: "int16 negative BA", type: "int16", order: "BADC", words: [0x2efb], value: -1234 },
  { name: "int16 min", type: "int16", order: "ABCD", words: [0x8000], value: -32768 },
  { name: "int16 max", type: "int16", order: "ABCD", words: [0x7fff], value: 32767 },
  // 32-bit integers
  { name: "uint32 ABCD", type: "uint32", order: "ABCD", words: [0x1234, 0x5678], value: 0x12345678 },
  { name: "uint32 CDAB", type: "uint32", order: "CDAB", words: [0x5678, 0x1234], value: 0x12345678 },
  { name: "uint32 BADC", type: "uint32", order: "BADC", words: [0x3412, 0x7856], value: 0x12345678 },
  { name: "uint32 DCBA", type: "uint32", order: "DCBA", words: [0x7856, 0x3412], value: 0x12345678 },
  { name: "uint32 max", type: "uint32", order: "ABCD", words: [0xffff, 0xffff], value: 4294967295 },
  { name: "int32 -2 ABCD", type: "int32", order: "ABCD", words: [0xffff, 0xfffe], value: -2 },
  { name: "int32 -2 CDAB", type: "int32", order: "CDAB", words: [0xfffe, 0xffff], value: -2 },
  { name: "int32 -2 BADC", type: "int32", order: "BADC", words: [0xffff, 0xfeff], value: -2 },
  { name: "int32 -2 DCBA", type: "int32", order: "DCBA", words: [0xfeff, 0xffff], value: -2 },
  { name: "int32 min", type: "int32", order: "ABCD", words: [0x8000, 0x0000], value: -2147483648 },
  // float32: pi = 0x40490FDB
  {
    name: "float32 ABCD",
    type: "float32",
    order: "ABCD",
    words: [0x4049, 0x0fdb],
    value: Math.fround(Math.PI),
  },
  {
    name: "float32 CDAB",
    type: "float32",
    order: "CDAB",
    words: [0x0fdb, 0x4049],
    value: Math.fround(Math.PI),
  },
  {
    name: "float32 BADC",
    type: "float32",
    order: "BADC",
    words: [0x4940, 0xdb0f],
    value: Math.fround(Math.PI),
  },
  {
    name: "float32 DCBA",
    type: "float32",
    order: "DCBA",
    words: [0xdb0f, 0x4940],
    value: Math.fround(Math.PI),
  },
  {
    name: "float32 -18.4",
    type: "float32",
    order: "ABCD",
    words: [0xc193, 0x3333],
    value: Math.fround(-18.4),
  },
  // float64: pi = 0x400921FB54442D18
  {
    name: "float64 ABCD",
    type: "float64",
    order: "ABCD",
    words: [0x4009, 0x21fb, 0x5444, 0x2d18],
    value: Math.PI,
  },
  {
    name: "float64 CDAB",
    type: "float64",
    order: "CDAB",
    words: [0x2d18, 0x5444, 0x21fb, 0x4009],
    value: Math.PI,
  },
  {
    name: "float64 BADC",
    type: "float64",
    order: "BADC",
    words: [0x0940, 0xfb21, 0x4454, 0x182d],
    value: Math.PI,
  },
  {
    name: "float64 DCBA",
    type: "float64",
    order: "DCBA",
    words: [0x182d, 0x4454, 0xfb21, 0x0940],
    value: Math.PI,
  },
  { name: "float64 1.0 ABCD", type: "float64", order: "ABCD", words: [0x3ff0, 0, 0, 0], value: 1 },
  { name: "float64 1.0 DCBA", type: "float64", order: "DCBA", words: [0, 0, 0, 0xf03f], value: 1 },
  // booleans in registers ignore the word order
  { name: "bool 0", type: "bool", order: "ABCD", words: [0], value: false },
  { name: "bool 1", type: "bool", order: "ABCD", words: [1], value: true },
  { name: "bool any non-zero", type: "bool", order: "DCBA", words: [0x8000], value: true },
  { name: "bit 10 set", type: "bit", order: "ABCD", words: [0x0400], value: true, bit: 10 },
  { name: "bit 9 clear", type: "bit", order: "ABCD", words: [0x0400], value: false, bit: 9 },
  { name: "bit 0 of PEMEL status", type: "bit", order: "ABCD", words: [0x7ff9], value: true, bit: 0 },
  { name: "bit 15", type: "bit", order: "BADC", words: [0x8000], value: true, bit: 15 },
];

describe("decodeRegisters", () => {
  it.each(table)("$name: $words → $value", ({ type, order, words, value, bit }) => {
    const f = bit === undefined ? format(type, order) : format(type, order, { bit });
    expect(decodeRegisters(words, f)).toBe(value);
  });

  it("applies scale and offset: engineering = raw * scale + offset", () => {
    expect(decodeRegisters([250], format("uint16", "ABCD", { scale: 0.1, offset: -10 }))).toBeCloseTo(15, 12);
    expect(decodeRegisters([0xff9c], format("int16", "ABCD", { scale: 0.5 }))).toBe(-50);
    expect(decodeRegisters([0x0001, 0x86a0], format("uint32", "ABCD", { scale: 0.001 }))).toBeCloseTo(
      100,
      12,
    );
  });

  it("refuses the wrong number of registers (PB_ERR_MODBUS_PROTOCOL)", () => {
    expect(codeOf(() => decodeRegisters([1], format("float32")))).toBe(ErrorCode.MODBUS_PROTOCOL);
    expect(codeOf(() => decodeRegisters([1, 2], format("uint16")))).toBe(ErrorCode.MODBUS_PROTOCOL);
  });
});

describe("encodeRegisters", () => {
  it.each(table.filter((row) => row.type !== "bit"))(
    "$name: $value → $words",
    ({ type, order, words, value }) => {
      expect(encodeRegisters(value, format(type, order))).toEqual(type === "bool" ? [value ? 1 : 0] : words);
    },
  );

  it("inverts scale and offset and rounds integer types half away from zero", () => {
    expect(encodeRegisters(15, format("uint16", "ABCD", { scale: 0.1, offset: -10 }))).toEqual([250]);
    expect(encodeRegisters(12.34, format("uint16", "ABCD", { scale: 0.1 }))).toEqual([123]);
    expect(encodeRegisters(12.35, format("uint16", "ABCD", { scale: 0.1 }))).toEqual([124]);
    expect(encodeRegisters(2.5, format("int16"))).toEqual([3]);
    expect(encodeRegisters(-2.5, format("int16"))).toEqual([0xfffd]);
    expect(encodeRegisters(-0.4, format("int16"))).toEqual([0]);
  });

  it.each([
    { type: "uint16", value: 65536 },
    { type: "uint16", value: -1 },
    { type: "uint16", value: 65535.5 },
    { type: "int16", value: 32768 },
    { type: "int16", value: -32769 },
    { type: "int32", value: 2 ** 31 },
    { type: "uint32", value: 2 ** 32 },
    { type: "uint32", value: -0.6 },
    { type: "float32", value: 1e39 },
    { type: "float64", value: Number.NaN },
    { type: "uint16", value: Number.POSITIVE_INFINITY },
    { type: "float32", value: Number.NEGATIVE_INFINITY },
  ] as const)("refuses $value for $type (PB_ERR_OUT_OF_LIMITS)", ({ type, value }) => {
    expect(codeOf(() => encodeRegisters(value, format(type)))).toBe(ErrorCode.OUT_OF_LIMITS);
  });

  it("range-checks the raw value after scale and offset", () => {
    // 7000 with scale 0.1 is raw 70000: beyond uint16 even though the engineering value looks small
    expect(codeOf(() => encodeRegisters(7000, format("uint16", "ABCD", { scale: 0.1 })))).toBe(
      ErrorCode.OUT_OF_LIMITS,
    );
    expect(encodeRegisters(6553.5, format("uint16", "ABCD", { scale: 0.1 }))).toEqual([65535]);
  });

  it("refuses booleans for numbers and numbers other than 0/1 for booleans (PB_ERR_BAD_INPUT)", () => {
    expect(codeOf(() => encodeRegisters(true, format("uint16")))).toBe(ErrorCode.BAD_INPUT);
    expect(codeOf(() => encodeRegisters(2, format("bool")))).toBe(ErrorCode.BAD_INPUT);
    expect(encodeRegisters(1, format("bool"))).toEqual([1]);
    expect(encodeRegisters(false, format("bool"))).toEqual([0]);
  });

  it("does not write a single bit of a register (PB_ERR_UNSUPPORTED)", () => {
    expect(codeOf(() => encodeRegisters(true, format("bit", "ABCD", { bit: 3 })))).toBe(
      ErrorCode.UNSUPPORTED,
    );
  });

  it("refuses a scale of 0 (cannot be inverted)", () => {
    expect(codeOf(() => encodeRegisters(1, format("uint16", "ABCD", { scale: 0 })))).toBe(ErrorCode.CONFIG);
  });

  it("names unit and tag when given an origin", () => {
    try {
      encodeRegisters(70000, format("uint16"), { unit: "PEMEL", tag: "current_setpoint" });
      expect.unreachable();
    } catch (e) {
      expect(isPlantbridgeError(e) && e.describe()).toMatch(/^PEMEL\.current_setpoint: /);
    }
  });
});

describe("round trips (property)", () => {
  const integerTypes = ["int16", "uint16", "int32", "uint32"] as const;

  it.each(orders)("reorderBytes is its own inverse for %s", (order) => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.boolean(), (bytes, long) => {
        const input = long ? new Uint8Array([...bytes, ...bytes.slice().reverse()]) : bytes;
        expect(reorderBytes(reorderBytes(input, order), order)).toEqual(input);
      }),
    );
  });

  for (const type of integerTypes) {
    it.each(orders)(`${type} %s: decode(encode(x)) === x over the whole range`, (order) => {
      const { min, max } = rawRange[type];
      fc.assert(
        fc.property(fc.integer({ min, max }), (x) => {
          const words = encodeRegisters(x, format(type, order));
          expect(words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff)).toBe(true);
          expect(decodeRegisters(words, format(type, order))).toBe(x);
        }),
      );
    });

    it.each(orders)(`${type} %s with scale/offset: error at most half a step`, (order) => {
      const { min, max } = rawRange[type];
      fc.assert(
        fc.property(
          fc.integer({ min, max }),
          fc.constantFrom(0.1, 0.01, 2, 0.5),
          fc.constantFrom(0, -40, 273.15),
          fc.double({ min: -0.49, max: 0.49, noNaN: true }),
          (raw, scale, offset, jitter) => {
            const f = format(type, order, { scale, offset });
            const x = raw * scale + offset + jitter * scale;
            let words: number[];
            try {
              words = encodeRegisters(x, f);
            } catch (e) {
              // Only at the very ends of the range may the jittered value round outside it.
              expect(isPlantbridgeError(e, ErrorCode.OUT_OF_LIMITS)).toBe(true);
              expect(raw === min || raw === max).toBe(true);
              return;
            }
            const back = decodeRegisters(words, f) as number;
            expect(Math.abs(back - x)).toBeLessThanOrEqual(
              Math.abs(scale) / 2 + 1e-9 * Math.max(1, Math.abs(x)),
            );
          },
        ),
      );
    });
  }

  it.each(orders)("float32 %s: decode(encode(x)) === x for every float32", (order) => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(decodeRegisters(encodeRegisters(x, format("float32", order)), format("float32", order))).toBe(
          x === 0 ? 0 : x,
        );
      }),
    );
  });

  it.each(orders)("float32 %s: a double comes back as its nearest float32", (order) => {
    fc.assert(
      fc.property(fc.double({ min: -3e38, max: 3e38, noNaN: true }), (x) => {
        const back = decodeRegisters(encodeRegisters(x, format("float32", order)), format("float32", order));
        // === on purpose: a tiny negative double may come back as -0
        expect(back === Math.fround(x)).toBe(true);
      }),
    );
  });

  it.each(orders)("float64 %s: decode(encode(x)) === x for every finite double", (order) => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(decodeRegisters(encodeRegisters(x, format("float64", order)), format("float64", order))).toBe(
          x === 0 ? 0 : x,
        );
      }),
    );
  });

  it("bool round-trips through a register", () => {
    for (const order of orders) {
      for (const v of [true, false]) {
        expect(decodeRegisters(encodeRegisters(v, format("bool", order)), format("bool", order))).toBe(v);
      }
    }
  });
});
