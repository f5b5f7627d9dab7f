/**
 * Which errors mean "the link itself is broken" (so the connection machine should fault and
 * reconnect) as opposed to a refusal about one tag or one value. Also turns anything thrown
 * into a coded PlantbridgeError that names the unit and tag.
 */

import type { ErrorOrigin } from "../lib/errors.ts";
import { ErrorCode, errorMessage, isPlantbridgeError, PlantbridgeError } from "../lib/errors.ts";

const linkLevelCodes: ReadonlySet<string> = new Set<string>([
  ErrorCode.TIMEOUT,
  ErrorCode.LINK_LOST,
  ErrorCode.NOT_CONNECTED,
  ErrorCode.MODBUS_TIMEOUT,
  ErrorCode.MODBUS_OFFLINE,
  ErrorCode.MODBUS_PROTOCOL,
  ErrorCode.OPCUA_CONNECT,
  ErrorCode.OPCUA_TIMEOUT,
]);

/** True when the error says the link cannot carry requests any more. Uncoded errors count as link failures. */
export function isLinkFailure(error: unknown): boolean {
  if (!isPlantbridgeError(error)) return true;
  return linkLevelCodes.has(error.code);
}

/** Keeps a PlantbridgeError as it is (adding a missing unit/tag); wraps anything else with `code`. */
export function asPlantbridgeError(error: unknown, code: ErrorCode, origin: ErrorOrigin): PlantbridgeError {
  if (isPlantbridgeError(error)) {
    if (error.origin.unit !== undefined) return error;
    return new PlantbridgeError(error.code, error.message, { ...origin, ...error.origin }, { cause: error });
  }
  return new PlantbridgeError(code, errorMessage(error), origin, { cause: error });
}
