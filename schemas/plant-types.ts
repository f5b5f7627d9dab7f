/**
 * The typed plant: what the loader (schemas/load-plant.ts) returns after it has parsed,
 * substituted ${ENV}, validated against plant.schema.json and normalised a plant file.
 * Every duration is in milliseconds, every address a number, every default filled in.
 * This file is the contract between config, adapters, machines and the CLI.
 */

/** `UNIT.tag`, e.g. `PEMEL.current_setpoint`. */
export type TagId = string;

export interface TagRef {
  unit: string;
  tag: string;
}

/** Engineering limits of a writable tag, inclusive, in engineering units (after scale/offset). */
export interface WriteLimits {
  min: number;
  max: number;
}

/** Where a key of the plant file stands: for run-time messages that point back at the config. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

// ---------------------------------------------------------------- Modbus TCP

export type ModbusArea = "holding" | "input" | "coil" | "discrete";

/**
 * Data types of a register tag. In the YAML, `bits` names a status word whose bits are
 * each a boolean tag; the loader expands it into one `bit` tag per named bit, so the
 * typed config never holds `bits`, only `bit` tags with their `bit` index.
 */
export type ModbusDataType = "bool" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64" | "bit";

/** Registers (or coils) one value of each Modbus data type occupies. */
export const modbusRegisterWidth = {
  bool: 1,
  bit: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  float64: 4,
} as const satisfies Record<ModbusDataType, number>;

/**
 * Byte order of multi-register values, as Telegraf and most device manuals name it:
 * ABCD = big-endian words, high word first (Modbus default); CDAB = low word first;
 * BADC = bytes swapped inside each word; DCBA = little-endian.
 */
export type WordOrder = "ABCD" | "CDAB" | "BADC" | "DCBA";

export interface ModbusTagConfig {
  /** Local tag name, unique within the unit. */
  name: string;
  area: ModbusArea;
  /** 0-based protocol address of the first register / coil. */
  address: number;
  type: ModbusDataType;
  /** Bit index 0..15 inside the register, only for `bit` tags (from a `bits` word). */
  bit?: number;
  wordOrder: WordOrder;
  /** engineering value = raw * scale + offset (defaults 1 and 0). */
  scale: number;
  offset: number;
  engineeringUnit?: string;
  description?: string;
  /** Present = the tag may be written, only within these limits. Absent = read-only. */
  writable?: WriteLimits;
  /** A good value unchanged for longer than this counts as stale (a frozen PLC program). */
  maxAgeMs?: number;
  position?: SourcePosition;
}

export interface ReconnectConfig {
  /** First delay after a failure. */
  initialDelayMs: number;
  /** Cap of the exponential backoff. */
  maxDelayMs: number;
  /** Growth factor per failed attempt (2 = doubling). */
  factor: number;
  /** Relative jitter 0..1: the delay is drawn from [d*(1-jitter), d]. */
  jitter: number;
  /** A connection up this long forgives the failures before it (the backoff starts again from the initial delay). */
  stableAfterMs: number;
}

/**
 * `separate`: the unit has a TCP connection of its own. `shared`: every shared unit of one host:port
 * uses one TCP connection (gateways that allow one connection only), one transaction at a time.
 */
export type ModbusConnectionMode = "separate" | "shared";

/** Demotion of a unit id that stops answering on a shared connection (adapters/modbus/demotion.ts). */
export interface DemotionConfig {
  /** Timeouts in a row that demote the unit. */
  after: number;
  /** First demotion period; each further demotion in a row doubles it. */
  periodMs: number;
  /** Cap of the demotion period. */
  maxPeriodMs: number;
}

export interface ModbusUnitConfig {
  name: string;
  protocol: "modbus-tcp";
  host: string;
  port: number;
  /** Modbus unit id (slave id); PEMEL is 0. */
  unitId: number;
  /** Timeout of connect and of every request. */
  timeoutMs: number;
  connection: ModbusConnectionMode;
  /** Used by shared connections only (defaults filled in for every unit). */
  demotion: DemotionConfig;
  /** Largest read request in registers (protocol maximum 125) or coils (2000). */
  maxRegistersPerRequest: number;
  /** Gaps of at most this many unused registers are bridged to merge two requests into one. */
  maxGapRegisters: number;
  reconnect: ReconnectConfig;
  tags: readonly ModbusTagConfig[];
  position?: SourcePosition;
}

// ---------------------------------------------------------------- OPC UA

export type OpcuaSecurityMode = "None" | "Sign" | "SignAndEncrypt";
export type OpcuaSecurityPolicy =
  | "None"
  | "Basic256Sha256"
  | "Aes128_Sha256_RsaOaep"
  | "Aes256_Sha256_RsaPss";

/** OPC UA built-in types a tag may be written as. */
export type OpcuaDataType =
  | "Boolean"
  | "SByte"
  | "Byte"
  | "Int16"
  | "UInt16"
  | "Int32"
  | "UInt32"
  | "Float"
  | "Double";

export interface OpcuaDeadband {
  type: "absolute" | "percent";
  value: number;
}

export interface OpcuaTagConfig {
  name: string;
  /** `ns=7;s=::AsGlobalPV:real_h2_flowrate` or the namespace-URI form `nsu=urn:...;s=...`. */
  nodeId: string;
  /** subscribe = monitored item on a subscription; poll = read service on demand. */
  mode: "subscribe" | "poll";
  samplingIntervalMs: number;
  deadband?: OpcuaDeadband;
  /** Needed for writes: the variable's built-in type. Default Double. */
  dataType: OpcuaDataType;
  engineeringUnit?: string;
  description?: string;
  writable?: WriteLimits;
  /** A good value unchanged for longer than this counts as stale (a frozen PLC program). */
  maxAgeMs?: number;
  position?: SourcePosition;
}

export interface OpcuaUnitConfig {
  name: string;
  protocol: "opcua";
  /** `opc.tcp://host:port/path` */
  endpoint: string;
  securityMode: OpcuaSecurityMode;
  securityPolicy: OpcuaSecurityPolicy;
  /** Both present = username/password identity; both absent = anonymous. Never logged. */
  username?: string;
  password?: string;
  timeoutMs: number;
  /** Session keep-alive; a missed keep-alive is a lost link. */
  keepAliveMs: number;
  publishingIntervalMs: number;
  reconnect: ReconnectConfig;
  tags: readonly OpcuaTagConfig[];
  position?: SourcePosition;
}

export type UnitConfig = ModbusUnitConfig | OpcuaUnitConfig;
export type TagConfig = ModbusTagConfig | OpcuaTagConfig;

// ---------------------------------------------------------------- control

export type RoundingRule = "none" | "half-even" | "half-up";

export interface CurveTransformConfig {
  /** Absolute path of the curve file (resolved against the plant file's folder). */
  file: string;
  /** 0-based column of the curve file that holds the loop's input (reference: 1, H2 flow). */
  inputColumn: number;
  /** 0-based column that holds the output (reference: 0, stack current). */
  outputColumn: number;
  /** Output when the input is at or above the curve's highest input (reference: 52 A). */
  atOrAboveTop: number;
  /** Output when the input is below the curve's lowest input (reference: 0 A). */
  belowBottom: number;
}

export interface TransformConfig {
  curve?: CurveTransformConfig;
  /** A result below `value` becomes `replacement` (reference: below 8 A → 0 A, off). */
  minimum?: { value: number; replacement: number };
  round: RoundingRule;
  /** Final clamp; a result outside it is clamped and the clamp is logged once. */
  clamp?: { min: number; max: number };
}

export interface FailSafeConfig {
  /** The input may be stale or Bad this long before the fail-safe value is written. */
  afterMs: number;
  /** Value written once when the fail-safe fires, then held. */
  value: number;
}

export interface ControlLoopConfig {
  name: string;
  input: TagRef;
  output: TagRef;
  /** A boolean tag that must be true for any write (reference: PEMEL bit 10). */
  permissive?: TagRef;
  transform: TransformConfig;
  /** Evaluate every period (drift-free schedule). */
  periodMs: number;
  /** Also evaluate as soon as a subscribed input changes. */
  onChange: boolean;
  /** A good input older than this counts as stale. */
  staleAfterMs: number;
  failSafe: FailSafeConfig;
  /** Input changes smaller than this keep the current set point. 0 = every change counts. */
  deadband: number;
  /** At most one write per this many ms (the latest decision wins). 0 = no limit. */
  minWriteIntervalMs: number;
  /** Output units per second toward a new set point (never for the fail-safe). Absent = jump. */
  rampRatePerS?: number;
  /** Re-write the current decision when nothing was written for this long. Absent = on change only. */
  reassertMs?: number;
  position?: SourcePosition;
}

// ---------------------------------------------------------------- storage

export interface WideColumn {
  column: string;
  tag: TagRef;
}

export interface HistorianConfig {
  /** postgres://… ; absent = the embedded PostgreSQL under var/. Never logged. */
  url?: string;
  /** PostgreSQL schema that holds the tables (created if missing). */
  schema: string;
  layout: "narrow" | "wide";
  /** wide layout only: the table and its columns, one per tag, plus the time column. */
  table?: string;
  timeColumn?: string;
  columns?: readonly WideColumn[];
  /**
   * wide layout only: IANA zone of the plant's wall time, written into a `timestamp without time
   * zone` time column. Default: the process's zone.
   */
  timeZone?: string;
  /**
   * False: plantbridge never changes an existing table (no added columns, no index); a missing
   * column is a start-up error. Default true.
   */
  alterTable: boolean;
  /** narrow layout only: samples older than this are deleted (in small batches, about hourly). Absent = kept forever. */
  retentionMs?: number;
}

export type SpoolSynchronous = "OFF" | "NORMAL" | "FULL";

export interface SpoolConfig {
  /** SQLite file (resolved absolute path, under var/ by default). */
  path: string;
  /** When the spool holds this many samples it drops the oldest, counted and logged. */
  maxSamples: number;
  /** When the spool holds this many dead letters (refused samples, conflicts) it drops the oldest, counted and logged. */
  maxDeadLetters: number;
  /** SQLite `synchronous` level: FULL survives power loss, NORMAL (default) survives a process crash. */
  synchronous: SpoolSynchronous;
  /** Samples per historian transaction. */
  batchSize: number;
}

export interface StorageConfig {
  periodMs: number;
  /** Each cycle waits this long for the units; one that has not answered is stored bad for that cycle. */
  deadlineMs: number;
  /** Tags sampled every period, in order. */
  tags: readonly TagRef[];
  historian: HistorianConfig;
  spool: SpoolConfig;
}

// ---------------------------------------------------------------- status server

export interface HttpConfig {
  /** Listen address; loopback (127.0.0.1) by default. */
  host: string;
  /** TCP port; 0 = any free port. */
  port: number;
  /** Bearer token every request must carry; required for a non-loopback host. Never logged or shown. */
  token?: string;
}

// ---------------------------------------------------------------- plant

export interface PlantConfig {
  name: string;
  /** Absolute path of the plant file this came from. */
  file: string;
  /** Folder for runtime data (spool, embedded database, PKI, logs); absolute. Default <repo>/var. */
  varDir: string;
  units: readonly UnitConfig[];
  control: readonly ControlLoopConfig[];
  storage: StorageConfig;
  /** The status server (page, health, metrics, events); false = off. */
  http: HttpConfig | false;
}

export function tagId(ref: TagRef): TagId {
  return `${ref.unit}.${ref.tag}`;
}

export function parseTagId(id: TagId): TagRef {
  const dot = id.indexOf(".");
  if (dot <= 0 || dot === id.length - 1) throw new Error(`tag id "${id}" is not UNIT.tag`);
  return { unit: id.slice(0, dot), tag: id.slice(dot + 1) };
}
