/**
 * Coded errors. Callers and tests match on `code`, never on message text.
 * Every error that reaches a person names where it comes from: a config file
 * position and key path, or a unit and tag at run time.
 */

export const ErrorCode = {
  CONFIG: "PB_ERR_CONFIG",
  CONFIG_ENV: "PB_ERR_CONFIG_ENV",
  CALIBRATION: "PB_ERR_CALIBRATION",
  BAD_INPUT: "PB_ERR_BAD_INPUT",
  TIMEOUT: "PB_ERR_TIMEOUT",
  NOT_CONNECTED: "PB_ERR_NOT_CONNECTED",
  LINK_LOST: "PB_ERR_LINK_LOST",
  UNKNOWN_TAG: "PB_ERR_UNKNOWN_TAG",
  NOT_WRITABLE: "PB_ERR_NOT_WRITABLE",
  OUT_OF_LIMITS: "PB_ERR_OUT_OF_LIMITS",
  UNSUPPORTED: "PB_ERR_UNSUPPORTED",
  MODBUS_TIMEOUT: "PB_ERR_MODBUS_TIMEOUT",
  MODBUS_EXCEPTION: "PB_ERR_MODBUS_EXCEPTION",
  MODBUS_OFFLINE: "PB_ERR_MODBUS_OFFLINE",
  MODBUS_PROTOCOL: "PB_ERR_MODBUS_PROTOCOL",
  /** One unit id on a shared connection did not answer in time; the connection itself lives on. */
  MODBUS_NO_REPLY: "PB_ERR_MODBUS_NO_REPLY",
  /** Refused without sending: the unit id is demoted on its shared connection after timeouts in a row. */
  MODBUS_DEMOTED: "PB_ERR_MODBUS_DEMOTED",
  OPCUA_CONNECT: "PB_ERR_OPCUA_CONNECT",
  OPCUA_AUTH: "PB_ERR_OPCUA_AUTH",
  OPCUA_BAD_STATUS: "PB_ERR_OPCUA_BAD_STATUS",
  OPCUA_TIMEOUT: "PB_ERR_OPCUA_TIMEOUT",
  OPCUA_UNTRUSTED_SERVER: "PB_ERR_OPCUA_UNTRUSTED_SERVER",
  HISTORIAN_UNAVAILABLE: "PB_ERR_HISTORIAN_UNAVAILABLE",
  HISTORIAN_REJECTED: "PB_ERR_HISTORIAN_REJECTED",
  SPOOL: "PB_ERR_SPOOL",
  SIMULATOR: "PB_ERR_SIMULATOR",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Where an error comes from, as far as it is known. */
export interface ErrorOrigin {
  /** Config file path, line and column (1-based) and dotted key path, for config errors. */
  file?: string;
  line?: number;
  column?: number;
  keyPath?: string;
  /** Unit and tag name, for run-time errors. */
  unit?: string;
  tag?: string;
}

export class PlantbridgeError extends Error {
  readonly code: ErrorCode;
  readonly origin: ErrorOrigin;

  constructor(code: ErrorCode, message: string, origin: ErrorOrigin = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PlantbridgeError";
    this.code = code;
    this.origin = origin;
  }

  /** `file:line:col key.path: message` for config errors; `unit.tag: message` for run-time errors. */
  describe(): string {
    const o = this.origin;
    if (o.file !== undefined) {
      const pos = o.line !== undefined ? `:${o.line}:${o.column ?? 1}` : "";
      const key = o.keyPath ? ` ${o.keyPath}` : "";
      return `${o.file}${pos}${key}: ${this.message}`;
    }
    if (o.unit !== undefined) {
      return `${o.unit}${o.tag !== undefined ? `.${o.tag}` : ""}: ${this.message}`;
    }
    return this.message;
  }
}

export function isPlantbridgeError(e: unknown, code?: ErrorCode): e is PlantbridgeError {
  return e instanceof PlantbridgeError && (code === undefined || e.code === code);
}

/** Turns anything thrown (strings, plain objects from libraries) into an Error with a readable message. */
export function errorMessage(e: unknown): string {
  if (e instanceof PlantbridgeError) return e.describe();
  if (e instanceof Error) return e.message;
  if (typeof e === "object" && e !== null && "message" in e && typeof e.message === "string")
    return e.message;
  return String(e);
}
