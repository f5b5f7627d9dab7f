import { describe, expect, it } from "vitest";
import { failedRanges, type ScannedValue, tagNotes } from "../../../bin/commissioning/scan-table.ts";
import type { ModbusTagConfig } from "../../../schemas/plant-types.ts";

const tag = (name: string, address: number, extra: Partial<ModbusTagConfig> = {}): ModbusTagConfig => ({
  name,
  area: "holding",
  address,
  type: "uint16",
  wordOrder: "ABCD",
  scale: 1,
  offset: 0,
  ...extra,
});

const values = (entries: Array<[number, ScannedValue]>) => new Map(entries);

describe("scan table", () => {
  it("decodes a float64 in DCBA order on its first register and points back from the others", () => {
    // 1.5 is 0x3FF8000000000000; DCBA (little-endian) puts bytes 00 00 .. F8 3F on the wire
    const scanned = values([
      [10, { raw: 0x0000 }],
      [11, { raw: 0x0000 }],
      [12, { raw: 0x0000 }],
      [13, { raw: 0xf83f }],
    ]);
    const notes = tagNotes(
      [tag("energy", 10, { type: "float64", wordOrder: "DCBA", engineeringUnit: "kWh" })],
      { area: "holding", from: 10, count: 4 },
      scanned,
    );
    expect(notes.get(10)).toEqual(["energy = 1.5 kWh (float64, DCBA, 0x000A..0x000D)"]);
    expect(notes.get(13)).toEqual(["(energy, word 4 of 4)"]);
  });

  it("says when a tag lies partly outside the range or its registers failed", () => {
    const range = { area: "holding" as const, from: 10, count: 2 };
    const scanned = values([
      [10, { reason: "Modbus exception 2 (illegal data address)" }],
      [11, { raw: 7 }],
    ]);
    const notes = tagNotes(
      [tag("a", 10), tag("b", 11, { type: "int32" }), tag("c", 9, { type: "uint32" })],
      range,
      scanned,
    );
    expect(notes.get(10)).toEqual([
      "a: not decoded (Modbus exception 2 (illegal data address))",
      "c: uint32 at 0x0009..0x000A, not all of it scanned",
    ]);
    expect(notes.get(11)).toEqual(["b: int32 at 0x000B..0x000C, not all of it scanned"]);
  });

  it("groups failed addresses into ranges by reason", () => {
    const scanned = values([
      [0, { raw: 1 }],
      [1, { reason: "Modbus exception 2 (illegal data address)" }],
      [2, { reason: "Modbus exception 2 (illegal data address)" }],
      [3, { reason: "Modbus exception 4 (server device failure)" }],
      [4, { raw: 1 }],
    ]);
    expect(failedRanges({ area: "holding", from: 0, count: 6 }, scanned)).toEqual([
      "0x0001..0x0002: Modbus exception 2 (illegal data address)",
      "0x0003: Modbus exception 4 (server device failure)",
      "0x0005: not read",
    ]);
  });
});
