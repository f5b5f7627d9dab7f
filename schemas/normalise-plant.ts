/**
 * A checked plant file → the typed PlantConfig of plant-types.ts: durations in ms, addresses as
 * numbers, `bits` words expanded, references split, paths absolute, every default filled in.
 * Runs only on a plant that passed the schema and the semantic checks.
 */
import { dirname, resolve } from "node:path";
import { parseAddress, parseDuration } from "./durations.ts";
import type {
  ControlLoopConfig,
  DemotionConfig,
  HistorianConfig,
  HttpConfig,
  ModbusTagConfig,
  ModbusUnitConfig,
  OpcuaTagConfig,
  OpcuaUnitConfig,
  PlantConfig,
  ReconnectConfig,
  SourcePosition,
  SpoolConfig,
  StorageConfig,
  TagRef,
  TransformConfig,
  UnitConfig,
} from "./plant-types.ts";
import { parseTagId } from "./plant-types.ts";
import type {
  RawControlLoop,
  RawDemotion,
  RawDuration,
  RawHttp,
  RawModbusUnit,
  RawOpcuaUnit,
  RawPlant,
  RawReconnect,
  RawSpool,
  RawStorage,
} from "./raw-plant.ts";
import { catalogueTags, modbusType, type TagCatalogue } from "./tag-catalogue.ts";
import { locate, type PlantSource } from "./yaml-source.ts";

/** The defaults a plant file may leave out; docs/configuration.md lists the same values. */
export const DEFAULTS = {
  modbusPort: 502,
  modbusUnitId: 1,
  modbusTimeoutMs: 1000,
  demotion: { after: 3, periodMs: 10_000, maxPeriodMs: 300_000 },
  maxRegistersPerRequest: 125,
  maxGapRegisters: 10,
  opcuaTimeoutMs: 5000,
  keepAliveMs: 5000,
  publishingIntervalMs: 100,
  samplingIntervalMs: 100,
  reconnect: { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: 0.2, stableAfterMs: 10_000 },
  storageDeadlineShare: 0.8,
  controlPeriodMs: 1000,
  staleAfterPeriods: 3,
  storagePeriodMs: 10_000,
  historianSchema: "plantbridge",
  timeColumn: "time",
  spoolMaxSamples: 10_000_000,
  spoolMaxDeadLetters: 100_000,
  spoolBatchSize: 5000,
  httpHost: "127.0.0.1",
  httpPort: 8480,
} as const;

export interface NormaliseOptions {
  /** Absolute path of the plant file. */
  file: string;
  /** Folder for run-time data given by the caller (wins over runtime.varDir). */
  varDir?: string;
  /** Base of relative varDir paths. */
  cwd: string;
}

/** Absolute path of a curve file named in a plant file (relative to the plant file's folder). */
export function curvePath(plantFile: string, curveFile: string): string {
  return resolve(dirname(resolve(plantFile)), curveFile);
}

function ms(value: RawDuration | undefined, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value);
}

export function normalisePlant(source: PlantSource, raw: RawPlant, options: NormaliseOptions): PlantConfig {
  const at = (path: string[]): SourcePosition => {
    const place = locate(source, path, "key");
    return { file: source.file, line: place.line, column: place.column };
  };
  const catalogue = catalogueTags(raw);
  const varDir = varDirOf(raw, options);
  const units: UnitConfig[] = Object.entries(raw.units).map(([name, unit]) =>
    unit.protocol === "modbus-tcp" ? modbusUnit(name, unit, catalogue, at) : opcuaUnit(name, unit, at),
  );
  const control = Object.entries(raw.control ?? {}).map(([name, loop]) =>
    controlLoop(name, loop, options.file, at(["control", name])),
  );
  return {
    name: raw.plant,
    file: options.file,
    varDir,
    units,
    control,
    storage: storage(raw.plant, raw.storage ?? {}, catalogue, varDir),
    http: http(raw.http),
  };
}

function http(raw: RawHttp | false | undefined): HttpConfig | false {
  if (raw === false) return false;
  const token = typeof raw?.token === "string" && raw.token !== "" ? raw.token : undefined;
  return {
    host: raw?.host ?? DEFAULTS.httpHost,
    port: raw?.port ?? DEFAULTS.httpPort,
    ...(token !== undefined ? { token } : {}),
  };
}

/** The run-time folder: the caller's (command line) over the file's `runtime.varDir` over `var`. */
export function varDirOf(raw: Pick<RawPlant, "runtime">, options: Omit<NormaliseOptions, "file">): string {
  return resolve(options.cwd, options.varDir ?? raw.runtime?.varDir ?? "var");
}

/** `storage.spool` with its defaults; the path made absolute under `varDir`. */
export function spoolConfig(raw: RawSpool | undefined, plant: string, varDir: string): SpoolConfig {
  const spool = raw ?? {};
  return {
    path: resolve(varDir, spool.path ?? `spool/${plant}.sqlite`),
    maxSamples: spool.maxSamples ?? DEFAULTS.spoolMaxSamples,
    maxDeadLetters: spool.maxDeadLetters ?? DEFAULTS.spoolMaxDeadLetters,
    synchronous: spool.synchronous ?? "NORMAL",
    batchSize: spool.batchSize ?? DEFAULTS.spoolBatchSize,
  };
}

function reconnect(raw: RawReconnect | undefined): ReconnectConfig {
  const d = DEFAULTS.reconnect;
  return {
    initialDelayMs: ms(raw?.initialDelay, d.initialDelayMs),
    maxDelayMs: ms(raw?.maxDelay, d.maxDelayMs),
    factor: raw?.factor ?? d.factor,
    jitter: raw?.jitter ?? d.jitter,
    stableAfterMs: ms(raw?.stableAfter, d.stableAfterMs),
  };
}

function demotion(raw: RawDemotion | undefined): DemotionConfig {
  const d = DEFAULTS.demotion;
  const periodMs = ms(raw?.period, d.periodMs);
  return {
    after: raw?.after ?? d.after,
    periodMs,
    // a period longer than the default cap keeps its own length as the cap
    maxPeriodMs: ms(raw?.maxPeriod, Math.max(d.maxPeriodMs, periodMs)),
  };
}

function modbusUnit(
  name: string,
  raw: RawModbusUnit,
  catalogue: TagCatalogue,
  at: (path: string[]) => SourcePosition,
): ModbusUnitConfig {
  const tags: ModbusTagConfig[] = catalogue.all
    .filter((t) => t.unit === name && t.modbus !== undefined)
    .map((t) => {
      const tag = t.modbus!;
      const common = {
        name: t.name,
        area: tag.area,
        address: parseAddress(tag.address),
        wordOrder: tag.wordOrder ?? ("ABCD" as const),
        ...(tag.maxAge !== undefined ? { maxAgeMs: parseDuration(tag.maxAge) } : {}),
        position: at(t.path),
      };
      if (t.word !== undefined) {
        const description = `${t.word.tag} bit ${t.word.bit}${tag.description !== undefined ? ` (${tag.description})` : ""}`;
        return { ...common, type: "bit" as const, bit: t.word.bit, scale: 1, offset: 0, description };
      }
      const type = modbusType(tag);
      return {
        ...common,
        type: type === "bits" ? ("uint16" as const) : type,
        scale: tag.scale ?? 1,
        offset: tag.offset ?? 0,
        ...(tag.unit !== undefined ? { engineeringUnit: tag.unit } : {}),
        ...(tag.description !== undefined ? { description: tag.description } : {}),
        ...(tag.writable !== undefined ? { writable: { min: tag.writable.min, max: tag.writable.max } } : {}),
      };
    });
  return {
    name,
    protocol: "modbus-tcp",
    host: raw.host,
    port: raw.port ?? DEFAULTS.modbusPort,
    unitId: raw.unitId ?? DEFAULTS.modbusUnitId,
    timeoutMs: ms(raw.timeout, DEFAULTS.modbusTimeoutMs),
    connection: raw.connection ?? "separate",
    demotion: demotion(raw.demotion),
    maxRegistersPerRequest: raw.maxRegistersPerRequest ?? DEFAULTS.maxRegistersPerRequest,
    maxGapRegisters: raw.maxGapRegisters ?? DEFAULTS.maxGapRegisters,
    reconnect: reconnect(raw.reconnect),
    tags,
    position: at(["units", name]),
  };
}

function opcuaUnit(name: string, raw: RawOpcuaUnit, at: (path: string[]) => SourcePosition): OpcuaUnitConfig {
  const tags: OpcuaTagConfig[] = Object.entries(raw.tags).map(([tagName, tag]) => ({
    name: tagName,
    nodeId: tag.nodeId,
    mode: tag.mode ?? "subscribe",
    samplingIntervalMs: ms(tag.samplingInterval, DEFAULTS.samplingIntervalMs),
    dataType: tag.dataType ?? "Double",
    ...(tag.deadband !== undefined
      ? { deadband: { type: tag.deadband.type, value: tag.deadband.value } }
      : {}),
    ...(tag.unit !== undefined ? { engineeringUnit: tag.unit } : {}),
    ...(tag.description !== undefined ? { description: tag.description } : {}),
    ...(tag.writable !== undefined ? { writable: { min: tag.writable.min, max: tag.writable.max } } : {}),
    ...(tag.maxAge !== undefined ? { maxAgeMs: parseDuration(tag.maxAge) } : {}),
    position: at(["units", name, "tags", tagName]),
  }));
  return {
    name,
    protocol: "opcua",
    endpoint: raw.endpoint,
    securityMode: raw.security?.mode ?? "None",
    securityPolicy: raw.security?.policy ?? "None",
    ...(raw.username !== undefined ? { username: raw.username } : {}),
    ...(raw.password !== undefined ? { password: raw.password } : {}),
    timeoutMs: ms(raw.timeout, DEFAULTS.opcuaTimeoutMs),
    keepAliveMs: ms(raw.keepAlive, DEFAULTS.keepAliveMs),
    publishingIntervalMs: ms(raw.publishingInterval, DEFAULTS.publishingIntervalMs),
    reconnect: reconnect(raw.reconnect),
    tags,
    position: at(["units", name]),
  };
}

function controlLoop(
  name: string,
  raw: RawControlLoop,
  plantFile: string,
  position: SourcePosition,
): ControlLoopConfig {
  const periodMs = ms(raw.period, DEFAULTS.controlPeriodMs);
  const t = raw.transform ?? {};
  const transform: TransformConfig = {
    round: t.round ?? "none",
    ...(t.curve !== undefined
      ? {
          curve: {
            file: curvePath(plantFile, t.curve.file),
            inputColumn: t.curve.input ?? 0,
            outputColumn: t.curve.output ?? 1,
            atOrAboveTop: t.curve.atOrAboveTop,
            belowBottom: t.curve.belowBottom,
          },
        }
      : {}),
    ...(t.minimum !== undefined
      ? { minimum: { value: t.minimum.value, replacement: t.minimum.replacement } }
      : {}),
    ...(t.clamp !== undefined ? { clamp: { min: t.clamp.min, max: t.clamp.max } } : {}),
  };
  return {
    name,
    input: parseTagId(raw.input),
    output: parseTagId(raw.output),
    ...(raw.permissive !== undefined ? { permissive: parseTagId(raw.permissive) } : {}),
    transform,
    periodMs,
    onChange: raw.onChange ?? true,
    staleAfterMs: ms(raw.staleAfter, DEFAULTS.staleAfterPeriods * periodMs),
    failSafe: { afterMs: parseDuration(raw.failSafe.after), value: raw.failSafe.value },
    deadband: raw.deadband ?? 0,
    minWriteIntervalMs: ms(raw.minWriteInterval, 0),
    ...(raw.rampRate !== undefined ? { rampRatePerS: raw.rampRate } : {}),
    ...(raw.reassert !== undefined ? { reassertMs: parseDuration(raw.reassert) } : {}),
    position,
  };
}

function storage(plant: string, raw: RawStorage, catalogue: TagCatalogue, varDir: string): StorageConfig {
  const h = raw.historian ?? {};
  const layout = h.layout ?? "narrow";
  const url = typeof h.url === "string" && h.url.trim() !== "" ? h.url : undefined;
  const historian: HistorianConfig = {
    ...(url !== undefined ? { url } : {}),
    schema: h.schema ?? DEFAULTS.historianSchema,
    layout,
    alterTable: h.alterTable ?? true,
  };
  const columns = Object.entries(h.columns ?? {}).map(([column, ref]) => ({ column, tag: parseTagId(ref) }));
  if (layout === "wide") {
    historian.table = h.table;
    historian.timeColumn = h.timeColumn ?? DEFAULTS.timeColumn;
    historian.columns = columns;
    historian.timeZone = h.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  }
  if (h.retention !== undefined) historian.retentionMs = parseDuration(h.retention);
  let tags: TagRef[];
  if (Array.isArray(raw.tags)) {
    tags = raw.tags.map(parseTagId);
  } else if (raw.tags === undefined && layout === "wide") {
    tags = columns.map((c) => c.tag);
  } else {
    tags = catalogue.all.map((t) => ({ unit: t.unit, tag: t.name }));
  }
  const periodMs = ms(raw.period, DEFAULTS.storagePeriodMs);
  return {
    periodMs,
    deadlineMs: ms(raw.deadline, Math.floor(periodMs * DEFAULTS.storageDeadlineShare)),
    tags,
    historian,
    spool: spoolConfig(raw.spool, plant, varDir),
  };
}
