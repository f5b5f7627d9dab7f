/**
 * The adapter edge for jsmodbus failures. jsmodbus rejects with plain objects
 * `{ err: 'Timeout' | 'ModbusException' | 'Offline' | 'OutOfSync' | 'Protocol' | ..., message }`
 * (not `Error`s, no stack); the exception code of a `ModbusException` is in `response.body.code`.
 * Everything leaving the adapter is a `PlantbridgeError` with a stable code.
 */
import { ErrorCode, type ErrorOrigin, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import { modbusExceptionReason } from "./exception-codes.ts";

/** The exception code of a jsmodbus `ModbusException` rejection, or undefined for anything else. */
export function modbusExceptionCode(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null || !("err" in e) || e.err !== "ModbusException") return undefined;
  const response: unknown = "response" in e ? e.response : undefined;
  if (typeof response !== "object" || response === null || !("body" in response)) return undefined;
  const body: unknown = response.body;
  if (typeof body !== "object" || body === null || !("code" in body) || typeof body.code !== "number") {
    return undefined;
  }
  return body.code;
}

function libraryKind(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "err" in e && typeof e.err === "string") return e.err;
  return undefined;
}

/** Turns whatever jsmodbus (or the socket) rejected with into a coded error naming unit and tag. */
export function toPlantbridgeError(e: unknown, origin: ErrorOrigin): PlantbridgeError {
  if (e instanceof PlantbridgeError) return e;
  const exceptionCode = modbusExceptionCode(e);
  if (exceptionCode !== undefined) {
    return new PlantbridgeError(ErrorCode.MODBUS_EXCEPTION, modbusExceptionReason(exceptionCode), origin, {
      cause: e,
    });
  }
  const message = errorMessage(e);
  switch (libraryKind(e)) {
    case "Timeout":
      return new PlantbridgeError(ErrorCode.MODBUS_TIMEOUT, `no reply: ${message}`, origin, { cause: e });
    case "Offline":
      return new PlantbridgeError(ErrorCode.MODBUS_OFFLINE, `link offline: ${message}`, origin, { cause: e });
    case "ModbusException":
      return new PlantbridgeError(ErrorCode.MODBUS_EXCEPTION, message, origin, { cause: e });
    default:
      return new PlantbridgeError(ErrorCode.MODBUS_PROTOCOL, `Modbus protocol error: ${message}`, origin, {
        cause: e,
      });
  }
}
