/**
 * The plant file as written, once it has passed plant.schema.json: keys as in the YAML,
 * durations and addresses still as written, defaults not yet filled in.
 * Only the loader's own steps use these types; everyone else uses schemas/plant-types.ts.
 */
import type {
  ModbusArea,
  OpcuaDataType,
  OpcuaSecurityMode,
  OpcuaSecurityPolicy,
  RoundingRule,
  SpoolSynchronous,
  WordOrder,
} from "./plant-types.ts";

export type RawDuration = number | string;
export type RawAddress = number | string;

export interface RawLimits {
  min: number;
  max: number;
}

export interface RawReconnect {
  initialDelay?: RawDuration;
  maxDelay?: RawDuration;
  factor?: number;
  jitter?: number;
  stableAfter?: RawDuration;
}

export interface RawDemotion {
  after?: number;
  period?: RawDuration;
  maxPeriod?: RawDuration;
}

export type RawModbusType = "bool" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64" | "bits";

export interface RawModbusTag {
  area: ModbusArea;
  address: RawAddress;
  type?: RawModbusType;
  bits?: Record<string, string>;
  wordOrder?: WordOrder;
  scale?: number;
  offset?: number;
  unit?: string;
  description?: string;
  writable?: RawLimits;
  maxAge?: RawDuration;
}

export interface RawModbusUnit {
  protocol: "modbus-tcp";
  description?: string;
  host: string;
  port?: number;
  unitId?: number;
  timeout?: RawDuration;
  connection?: "separate" | "shared";
  demotion?: RawDemotion;
  maxRegistersPerRequest?: number;
  maxGapRegisters?: number;
  reconnect?: RawReconnect;
  tags: Record<string, RawModbusTag>;
}

export interface RawOpcuaTag {
  nodeId: string;
  mode?: "subscribe" | "poll";
  samplingInterval?: RawDuration;
  deadband?: { type: "absolute" | "percent"; value: number };
  dataType?: OpcuaDataType;
  unit?: string;
  description?: string;
  writable?: RawLimits;
  maxAge?: RawDuration;
}

export interface RawOpcuaUnit {
  protocol: "opcua";
  description?: string;
  endpoint: string;
  security?: { mode?: OpcuaSecurityMode; policy?: OpcuaSecurityPolicy };
  username?: string;
  password?: string;
  timeout?: RawDuration;
  keepAlive?: RawDuration;
  publishingInterval?: RawDuration;
  reconnect?: RawReconnect;
  tags: Record<string, RawOpcuaTag>;
}

export type RawUnit = RawModbusUnit | RawOpcuaUnit;

export interface RawCurve {
  file: string;
  input?: number;
  output?: number;
  atOrAboveTop: number;
  belowBottom: number;
}

export interface RawTransform {
  curve?: RawCurve;
  minimum?: { value: number; replacement: number };
  round?: RoundingRule;
  clamp?: RawLimits;
}

export interface RawControlLoop {
  description?: string;
  input: string;
  output: string;
  permissive?: string;
  period?: RawDuration;
  onChange?: boolean;
  staleAfter?: RawDuration;
  transform?: RawTransform;
  failSafe: { after: RawDuration; value: number };
  deadband?: number;
  minWriteInterval?: RawDuration;
  rampRate?: number;
  reassert?: RawDuration;
}

export interface RawHistorian {
  url?: string | null;
  schema?: string;
  layout?: "narrow" | "wide";
  table?: string;
  timeColumn?: string;
  columns?: Record<string, string>;
  timeZone?: string;
  alterTable?: boolean;
  retention?: RawDuration;
}

export interface RawSpool {
  path?: string;
  maxSamples?: number;
  maxDeadLetters?: number;
  synchronous?: SpoolSynchronous;
  batchSize?: number;
}

export interface RawStorage {
  period?: RawDuration;
  deadline?: RawDuration;
  tags?: "all" | string[];
  historian?: RawHistorian;
  spool?: RawSpool;
}

export interface RawPlant {
  plant: string;
  description?: string;
  runtime?: { varDir?: string };
  units: Record<string, RawUnit>;
  control?: Record<string, RawControlLoop>;
  storage?: RawStorage;
  http?: RawHttp | false;
}

export interface RawHttp {
  host?: string;
  port?: number;
  token?: string | null;
}
