import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TagValue } from "../../../adapters/types.ts";
import type { ModbusDataType, ModbusTagConfig, WordOrder } from "../../../schemas/plant-types.ts";
import type { PemelSimulator } from "../../../simulators/pemel/index.ts";
import { tag } from "../../unit/modbus/fixtures.ts";
import { linkTo, startSimulator, type TestLink, unitFor } from "./harness.ts";

const orders: readonly WordOrder[] = ["ABCD", "CDAB", "BADC", "DCBA"];
const samples: Record<Exclude<ModbusDataType, "bit" | "bool">, number[]> = {
  int16: [-32768, -1234, 0, 32767],
  uint16: [0, 4660, 65535],
  int32: [-2147483648, -2, 305419896, 2147483647],
  uint32: [0, 305419896, 4294967295],
  float32: [Math.fround(Math.PI), Math.fround(-18.4), Math.fround(3.4e38), 0],
  float64: [Math.PI, -1e-300, 1.7976931348623157e308, 52],
};

// Spare holding registers, far from PEMEL's own (0x8006, 0x8061..0x8072).
let next = 0x1000;
const tags: ModbusTagConfig[] = [];
const cases: { name: string; type: ModbusDataType; order: WordOrder; value: TagValue }[] = [];
for (const [type, values] of Object.entries(samples) as [keyof typeof samples, number[]][]) {
  for (const order of orders) {
    const name = `${type}_${order}`;
    const t = tag(name, next, type, {
      wordOrder: order,
      writable: { min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
    });
    tags.push(t);
    next += 4;
    for (const value of values) cases.push({ name, type, order, value });
  }
}
tags.push(
  tag("scaled_temperature", 0x2000, "int16", { scale: 0.1, offset: -40, writable: { min: -40, max: 100 } }),
  tag("flag_register", 0x2001, "bool", { writable: { min: 0, max: 1 } }),
  tag("valve_coil", 0x0100, "bool", { area: "coil", writable: { min: 0, max: 1 } }),
  tag("pump_coil", 0x0107, "bool", { area: "coil", writable: { min: 0, max: 1 } }),
  tag("coil_at_top", 0xffff, "bool", { area: "coil", writable: { min: 0, max: 1 } }),
  tag("input_float", 0x0300, "float32", { area: "input", wordOrder: "CDAB" }),
  tag("input_int", 0x0302, "int16", { area: "input" }),
  tag("door_closed", 0x0010, "bool", { area: "discrete" }),
  tag("estop_ok", 0x0013, "bool", { area: "discrete" }),
);

// The same round trips on a connection of its own (jsmodbus client) and on a shared connection
// (the gateway's own MBAP client): both encode, decode and check alike.
describe.each(["separate", "shared"] as const)("%s connection", (connection) => {
  let sim: PemelSimulator;
  let link: TestLink["link"];

  beforeAll(async () => {
    sim = await startSimulator();
    link = linkTo(unitFor(sim, { tags, connection })).link;
    await link.connect();
  });

  afterAll(async () => {
    await link.close();
    await sim.stop();
  });

  describe("every type and word order through real registers", () => {
    it.each(cases)("$name ← $value", async ({ name, value }) => {
      await link.write(name, value);
      const reading = (await link.read([name])).get(name);
      expect(reading?.quality).toBe("good");
      expect(reading?.value === value).toBe(true);
    });

    it("writes land in the registers in the declared word order", async () => {
      await link.write("uint32_CDAB", 0x12345678);
      const t = tags.find((x) => x.name === "uint32_CDAB")!;
      const holding = sim.memory().holding;
      expect([holding.readUInt16BE(t.address * 2), holding.readUInt16BE(t.address * 2 + 2)]).toEqual([
        0x5678, 0x1234,
      ]);
      const last = sim.served.registerWrites.at(-1);
      expect(last).toMatchObject({ area: "holding", address: t.address, values: [0x5678, 0x1234] });
    });

    it("16-bit writes use FC6 (one register), wider ones FC16", async () => {
      const before = sim.served.registerWriteCount;
      await link.write("int16_ABCD", -5);
      await link.write("float64_DCBA", 1.5);
      expect(sim.served.registerWriteCount - before).toBe(2);
      expect(sim.served.registerWrites.slice(-2).map((w) => w.values.length)).toEqual([1, 4]);
    });

    it("scale and offset apply both ways", async () => {
      await link.write("scaled_temperature", 21.7);
      expect(sim.memory().holding.readInt16BE(0x2000 * 2)).toBe(617);
      const reading = (await link.read(["scaled_temperature"])).get("scaled_temperature");
      expect(reading?.value).toBeCloseTo(21.7, 10);
    });

    it("a bool in a holding register and coils round-trip", async () => {
      for (const v of [true, false, true]) {
        await link.write("flag_register", v);
        await link.write("valve_coil", v);
        await link.write("pump_coil", !v);
        await link.write("coil_at_top", v);
        const r = await link.read(["flag_register", "valve_coil", "pump_coil", "coil_at_top"]);
        expect([...r.values()].map((x) => x.value)).toEqual([v, v, !v, v]);
      }
    });

    it("input registers and discrete inputs read what the unit holds", async () => {
      const memory = sim.memory();
      // float32 CDAB at 0x0300: low word first
      const f = Buffer.alloc(4);
      f.writeFloatBE(-273.5);
      memory.input.writeUInt16BE(f.readUInt16BE(2), 0x0300 * 2);
      memory.input.writeUInt16BE(f.readUInt16BE(0), 0x0301 * 2);
      memory.input.writeInt16BE(-7, 0x0302 * 2);
      memory.discrete[0x10 >> 3] = 0b0000_0001; // discrete 0x10 on, 0x13 off
      const r = await link.read(["input_float", "input_int", "door_closed", "estop_ok"]);
      expect(r.get("input_float")?.value).toBe(-273.5);
      expect(r.get("input_int")?.value).toBe(-7);
      expect(r.get("door_closed")?.value).toBe(true);
      expect(r.get("estop_ok")?.value).toBe(false);
    });
  });
});
