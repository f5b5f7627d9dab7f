import { describe, expect, it } from "vitest";
import { modbusExceptionReason } from "../../../adapters/modbus/exception-codes.ts";
import { modbusExceptionCode, toPlantbridgeError } from "../../../adapters/modbus/library-errors.ts";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";

const origin = { unit: "PEMEL", tag: "power" };

describe("jsmodbus rejections at the adapter edge", () => {
  it("a ModbusException becomes PB_ERR_MODBUS_EXCEPTION with the code in words", () => {
    const rejection = {
      err: "ModbusException",
      message: "ModbusException: ...",
      response: { body: { code: 2 } },
    };
    expect(modbusExceptionCode(rejection)).toBe(2);
    const e = toPlantbridgeError(rejection, origin);
    expect(e).toBeInstanceOf(PlantbridgeError);
    expect(e.code).toBe(ErrorCode.MODBUS_EXCEPTION);
    expect(e.message).toBe("Modbus exception 2 (illegal data address)");
    expect(e.describe()).toBe("PEMEL.power: Modbus exception 2 (illegal data address)");
  });

  it.each([
    ["Timeout", ErrorCode.MODBUS_TIMEOUT],
    ["Offline", ErrorCode.MODBUS_OFFLINE],
    ["OutOfSync", ErrorCode.MODBUS_PROTOCOL],
    ["Protocol", ErrorCode.MODBUS_PROTOCOL],
  ])("%s becomes %s", (err, code) => {
    const e = toPlantbridgeError({ err, message: "something" }, origin);
    expect(e.code).toBe(code);
    expect(e.origin).toEqual(origin);
  });

  it("anything else (no err field) becomes a protocol error keeping the message", () => {
    const e = toPlantbridgeError(new Error("InvalidStartAddress"), origin);
    expect(e.code).toBe(ErrorCode.MODBUS_PROTOCOL);
    expect(e.message).toContain("InvalidStartAddress");
    expect(modbusExceptionCode(new Error("x"))).toBeUndefined();
    expect(modbusExceptionCode({ err: "ModbusException" })).toBeUndefined();
  });

  it("a PlantbridgeError passes through unchanged", () => {
    const original = new PlantbridgeError(ErrorCode.LINK_LOST, "gone", origin);
    expect(toPlantbridgeError(original, {})).toBe(original);
  });

  it("names exception codes, including unknown ones", () => {
    expect(modbusExceptionReason(4)).toBe("Modbus exception 4 (server device failure)");
    expect(modbusExceptionReason(6)).toBe("Modbus exception 6 (server device busy)");
    expect(modbusExceptionReason(99)).toBe("Modbus exception 99 (unknown exception code)");
  });
});
