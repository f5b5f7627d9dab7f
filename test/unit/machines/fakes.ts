/**
 * Fakes for the machine tests: a unit link with scripted failures, an in-memory spool, a
 * historian sink that records what it got, small plant configs, and helpers that drive the
 * SimulatedClock and let promise actors settle.
 */
import pino from "pino";
import type { SimulatedClock } from "xstate";
import type {
  HistorianSink,
  PushListener,
  PushSubscription,
  Reading,
  Sample,
  SampleConflict,
  SinkWrite,
  Spool,
  SpooledSample,
  SpoolStats,
  TagInfo,
  TagValue,
  UnitLink,
} from "../../../adapters/types.ts";
import type { Clock } from "../../../lib/clock.ts";
import { ErrorCode, PlantbridgeError } from "../../../lib/errors.ts";
import type { Log } from "../../../lib/log.ts";
import type {
  ControlLoopConfig,
  ModbusTagConfig,
  ModbusUnitConfig,
  OpcuaTagConfig,
  OpcuaUnitConfig,
  PlantConfig,
  ReconnectConfig,
  StorageConfig,
} from "../../../schemas/plant-types.ts";

// ---------------------------------------------------------------- clock

/**
 * Both clocks of plantbridge on XState's SimulatedClock: monotonic = the simulated time, wall =
 * the simulated time plus an offset a test can step (an NTP correction, a hand-set clock).
 */
export class TestClock implements Clock {
  wallOffsetMs: number;
  readonly simulated: SimulatedClock;

  constructor(simulated: SimulatedClock, wallStartMs = 0) {
    this.simulated = simulated;
    this.wallOffsetMs = wallStartMs;
  }

  monotonic(): number {
    return this.simulated.now();
  }

  wall(): number {
    return this.simulated.now() + this.wallOffsetMs;
  }

  /** Steps the wall clock by `ms` (negative: back); the monotonic clock does not move. */
  stepWall(ms: number): void {
    this.wallOffsetMs += ms;
  }
}

/** Lets promise actors settle: drains the microtask queue a few times. */
export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Advances the simulated clock in steps, letting promises settle after each step. */
export async function advance(clock: SimulatedClock, ms: number, stepMs = 10): Promise<void> {
  await flush();
  let left = ms;
  while (left > 0) {
    const step = Math.min(stepMs, left);
    clock.increment(step);
    left -= step;
    await flush();
  }
}

/** A promise that settles after `ms` on the simulated clock (a read or write that takes time). */
export function takesTime<T>(clock: SimulatedClock, ms: number, value: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    clock.setTimeout(() => {
      try {
        resolve(value());
      } catch (e) {
        reject(e);
      }
    }, ms);
  });
}

// ---------------------------------------------------------------- unit link

export type ReadHandler = (tags: readonly string[]) => Promise<Map<string, Reading>>;

export class FakeLink implements UnitLink {
  readonly unit: string;
  /** Outcomes of the next connect() calls: an error rejects; exhausted = success. */
  connectScript: (PlantbridgeError | "ok")[] = [];
  connectCalls: number[] = [];
  closeCalls = 0;
  /** Current values served by read(), by local tag name. */
  values = new Map<string, TagValue>();
  /** Tags served with bad quality and this reason. */
  badTags = new Map<string, string>();
  /** When set, read() rejects with it (a link-level failure). */
  readFailure: PlantbridgeError | undefined;
  /** Replaces the default read behaviour (e.g. a read that takes simulated time). */
  readHandler: ReadHandler | undefined;
  readCalls: { tags: string[]; time: number }[] = [];
  writes: { tag: string; value: TagValue; time: number }[] = [];
  /** When set, write() rejects with it. */
  writeFailure: PlantbridgeError | undefined;
  subscribeCalls: string[][] = [];
  unsubscribeCalls = 0;
  /** Outcomes of the next subscribe() calls: an error rejects; exhausted = success. */
  subscribeScript: (PlantbridgeError | "ok")[] = [];
  /** The silence limit the next subscriptions report. */
  silenceLimitMs = 5000;
  listener: PushListener | undefined;
  /**
   * While true, a live subscription sends a keep-alive every `keepAliveEveryMs` of simulated time
   * (a healthy OPC UA server does); false = the subscription goes silent.
   */
  keepAlives = true;
  keepAliveEveryMs = 1000;
  private lostListeners = new Set<(error: PlantbridgeError) => void>();
  private readonly clock: Clock;

  constructor(unit: string, clock: Clock) {
    this.unit = unit;
    this.clock = clock;
  }

  private scheduleKeepAlive(listener: PushListener): void {
    if (!(this.clock instanceof TestClock)) return;
    const simulated = this.clock.simulated;
    simulated.setTimeout(() => {
      if (this.listener !== listener) return;
      if (this.keepAlives) listener.alive();
      this.scheduleKeepAlive(listener);
    }, this.keepAliveEveryMs);
  }

  private stamp() {
    return { time: this.clock.wall(), receivedAt: this.clock.monotonic() };
  }

  async connect(): Promise<void> {
    this.connectCalls.push(this.clock.monotonic());
    const next = this.connectScript.shift();
    if (next !== undefined && next !== "ok") throw next;
  }

  async read(tags: readonly string[]): Promise<Map<string, Reading>> {
    this.readCalls.push({ tags: [...tags], time: this.clock.monotonic() });
    if (this.readHandler) return this.readHandler(tags);
    if (this.readFailure) throw this.readFailure;
    return this.serve(tags);
  }

  serve(tags: readonly string[]): Map<string, Reading> {
    const at = this.stamp();
    const out = new Map<string, Reading>();
    for (const tag of tags) {
      const reason = this.badTags.get(tag);
      const value = this.values.get(tag);
      if (reason !== undefined) out.set(tag, { value: null, quality: "bad", reason, ...at });
      else if (value !== undefined) out.set(tag, { value, quality: "good", ...at });
    }
    return out;
  }

  async write(tag: string, value: TagValue): Promise<void> {
    if (this.writeFailure) throw this.writeFailure;
    this.writes.push({ tag, value, time: this.clock.monotonic() });
  }

  async subscribe(tags: readonly string[], listener: PushListener): Promise<PushSubscription> {
    this.subscribeCalls.push([...tags]);
    const next = this.subscribeScript.shift();
    if (next !== undefined && next !== "ok") throw next;
    this.listener = listener;
    listener.alive();
    this.scheduleKeepAlive(listener);
    return {
      silenceLimitMs: this.silenceLimitMs,
      close: async () => {
        this.unsubscribeCalls++;
        if (this.listener === listener) this.listener = undefined;
      },
    };
  }

  /** The unit pushes a value through its subscription (a publish response: also a sign of life). */
  push(tag: string, value: TagValue): void {
    this.listener?.reading(tag, { value, quality: "good", ...this.stamp() });
    this.listener?.alive();
  }

  /** A keep-alive publish response. */
  keepAlive(): void {
    this.listener?.alive();
  }

  /** The server ends the subscription while the link lives. */
  endSubscription(reason = "subscription 1 terminated"): void {
    const listener = this.listener;
    this.listener = undefined;
    listener?.ended(reason);
  }

  async close(): Promise<void> {
    this.closeCalls++;
  }

  onLost(listener: (error: PlantbridgeError) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** The link is detected dead (socket closed, keep-alive missed). */
  lose(reason = "socket closed"): void {
    const error = new PlantbridgeError(ErrorCode.LINK_LOST, reason, { unit: this.unit });
    for (const listener of [...this.lostListeners]) listener(error);
  }

  get listenerCount(): number {
    return this.lostListeners.size;
  }
}

export function linkError(unit: string, message = "connection refused"): PlantbridgeError {
  return new PlantbridgeError(ErrorCode.MODBUS_OFFLINE, message, { unit });
}

// ---------------------------------------------------------------- spool

export class MemorySpool implements Spool {
  rows: SpooledSample[] = [];
  cursors = new Map<string, number>();
  deadLetters: { sink: string; samples: SpooledSample[]; reason: string }[] = [];
  appendCalls: number[] = [];
  /** The next append() calls throw this many times. */
  failAppends = 0;
  closed = false;
  private seq = 0;

  append(samples: readonly Sample[]): number {
    this.appendCalls.push(samples.length);
    if (this.failAppends > 0) {
      this.failAppends--;
      throw new PlantbridgeError(ErrorCode.SPOOL, "disk full");
    }
    for (const s of samples) this.rows.push({ ...s, seq: ++this.seq });
    return this.seq;
  }

  readBatch(sink: string, limit: number, after?: number): SpooledSample[] {
    const from = after ?? this.cursors.get(sink) ?? 0;
    return this.rows.filter((r) => r.seq > from).slice(0, limit);
  }

  ack(sink: string, seq: number): void {
    this.cursors.set(sink, Math.max(this.cursors.get(sink) ?? 0, seq));
  }

  deadLetter(sink: string, samples: readonly SpooledSample[], reason: string): void {
    this.deadLetters.push({ sink, samples: [...samples], reason });
    const last = samples.at(-1);
    if (last) this.ack(sink, last.seq);
  }

  pending(sink: string): number {
    const cursor = this.cursors.get(sink) ?? 0;
    return this.rows.filter((r) => r.seq > cursor).length;
  }

  stats(): SpoolStats {
    if (this.closed) throw new PlantbridgeError(ErrorCode.SPOOL, "spool closed");
    const pending: Record<string, number> = {};
    for (const sink of this.cursors.keys()) pending[sink] = this.pending(sink);
    return {
      pending,
      held: this.rows.length,
      dropped: 0,
      deadLettered: this.deadLetters.reduce((n, d) => n + d.samples.length, 0),
    };
  }

  close(): void {
    this.closed = true;
  }
}

// ---------------------------------------------------------------- historian sink

export class FakeSink implements HistorianSink {
  readonly name: string;
  /** While true, open() and write() reject with PB_ERR_HISTORIAN_UNAVAILABLE. */
  unavailable = false;
  /** A batch holding a sample of one of these tags is rejected whole (PB_ERR_HISTORIAN_REJECTED). */
  rejectTags = new Set<string>();
  stored: SpooledSample[] = [];
  /** What the fake historian holds, by `tag@time`. */
  held = new Map<string, SpooledSample>();
  writeCalls: number[] = [];
  openCalls: (readonly TagInfo[])[] = [];
  closeCalls = 0;
  /** Replaces write's timing (e.g. a write that takes simulated time). */
  delay: ((batch: readonly SpooledSample[]) => Promise<void>) | undefined;

  constructor(name = "historian") {
    this.name = name;
  }

  async open(tags: readonly TagInfo[]): Promise<void> {
    this.openCalls.push(tags);
    if (this.unavailable) throw new PlantbridgeError(ErrorCode.HISTORIAN_UNAVAILABLE, "connection refused");
  }

  /**
   * Stores the batch like the historian does: a sample whose (tag, time) is held already is a
   * no-op when its value and quality are the same, and a conflict (not stored) when they differ.
   */
  async write(batch: readonly SpooledSample[]): Promise<SinkWrite> {
    this.writeCalls.push(batch.length);
    if (this.delay) await this.delay(batch);
    if (this.unavailable) throw new PlantbridgeError(ErrorCode.HISTORIAN_UNAVAILABLE, "connection refused");
    const bad = batch.find((s) => this.rejectTags.has(s.tag));
    if (bad) throw new PlantbridgeError(ErrorCode.HISTORIAN_REJECTED, `value out of range for ${bad.tag}`);
    const conflicts: SampleConflict[] = [];
    for (const sample of batch) {
      const key = `${sample.tag}@${sample.time}`;
      const held = this.held.get(key);
      if (held === undefined) {
        this.held.set(key, sample);
        this.stored.push(sample);
      } else if (held.value !== sample.value || held.quality !== sample.quality) {
        conflicts.push({ sample, reason: `${key} holds ${held.value}, this sample has ${sample.value}` });
      }
    }
    return { conflicts };
  }

  async ping(): Promise<boolean> {
    return !this.unavailable;
  }

  async close(): Promise<void> {
    this.closeCalls++;
  }
}

// ---------------------------------------------------------------- configs

export const testReconnect: ReconnectConfig = {
  initialDelayMs: 1000,
  maxDelayMs: 8000,
  factor: 2,
  jitter: 0,
  stableAfterMs: 10_000,
};

export function modbusTag(name: string, extra: Partial<ModbusTagConfig> = {}): ModbusTagConfig {
  return {
    name,
    area: "holding",
    address: 0,
    type: "uint16",
    wordOrder: "ABCD",
    scale: 1,
    offset: 0,
    ...extra,
  };
}

export function opcuaTag(name: string, extra: Partial<OpcuaTagConfig> = {}): OpcuaTagConfig {
  return {
    name,
    nodeId: `ns=7;s=::AsGlobalPV:${name}`,
    mode: "poll",
    samplingIntervalMs: 100,
    dataType: "Double",
    ...extra,
  };
}

/** PEMEL-like Modbus unit: a writable current set point, a permissive bit, two measurements. */
export function pemelUnit(): ModbusUnitConfig {
  return {
    name: "PEMEL",
    protocol: "modbus-tcp",
    connection: "separate",
    demotion: { after: 3, periodMs: 10_000, maxPeriodMs: 300_000 },
    host: "127.0.0.1",
    port: 502,
    unitId: 0,
    timeoutMs: 1000,
    maxRegistersPerRequest: 125,
    maxGapRegisters: 8,
    reconnect: testReconnect,
    tags: [
      modbusTag("current_setpoint", { address: 0x8006, writable: { min: 0, max: 52 } }),
      modbusTag("cooling_reached", { address: 0x8061, type: "bit", bit: 10 }),
      modbusTag("current", { address: 0x8066 }),
      modbusTag("power", { address: 0x8065 }),
    ],
  };
}

/** METH-like OPC UA unit: a subscribed H2 demand and a polled temperature. */
export function methUnit(demandMode: "subscribe" | "poll" = "subscribe"): OpcuaUnitConfig {
  return {
    name: "METH",
    protocol: "opcua",
    endpoint: "opc.tcp://127.0.0.1:4840",
    securityMode: "None",
    securityPolicy: "None",
    timeoutMs: 1000,
    keepAliveMs: 5000,
    publishingIntervalMs: 100,
    reconnect: testReconnect,
    tags: [opcuaTag("h2_demand", { mode: demandMode }), opcuaTag("temperature")],
  };
}

export function followLoop(extra: Partial<ControlLoopConfig> = {}): ControlLoopConfig {
  return {
    name: "pemel_follows_meth",
    input: { unit: "METH", tag: "h2_demand" },
    output: { unit: "PEMEL", tag: "current_setpoint" },
    permissive: { unit: "PEMEL", tag: "cooling_reached" },
    transform: { round: "half-even" },
    periodMs: 1000,
    onChange: false,
    staleAfterMs: 5000,
    failSafe: { afterMs: 5000, value: 0 },
    deadband: 0,
    minWriteIntervalMs: 0,
    ...extra,
  };
}

export function storageConfig(extra: Partial<StorageConfig> = {}): StorageConfig {
  return {
    periodMs: 10_000,
    deadlineMs: Math.floor((extra.periodMs ?? 10_000) * 0.8),
    tags: [
      { unit: "METH", tag: "temperature" },
      { unit: "PEMEL", tag: "current" },
      { unit: "PEMEL", tag: "power" },
    ],
    historian: { schema: "plantbridge", layout: "narrow", alterTable: true },
    spool: {
      path: "/nonexistent/spool.sqlite",
      maxSamples: 100_000,
      maxDeadLetters: 1000,
      synchronous: "NORMAL",
      batchSize: 500,
    },
    ...extra,
  };
}

export function plantConfig(extra: Partial<PlantConfig> = {}): PlantConfig {
  return {
    name: "p2g-test",
    file: "/nonexistent/plant.yaml",
    varDir: "/nonexistent/var",
    units: [pemelUnit(), methUnit()],
    control: [followLoop()],
    storage: storageConfig(),
    http: false,
    ...extra,
  };
}

/** A transform like the reference one, simplified: demand Nl/min → current A, 1:1 up to 52 A. */
export function linearTransform(input: number) {
  if (!Number.isFinite(input)) {
    return {
      ok: false as const,
      error: new PlantbridgeError(ErrorCode.BAD_INPUT, `input ${input} is not finite`),
    };
  }
  const value = Math.min(52, Math.round(input));
  return { ok: true as const, value, rule: "curve", clamped: false };
}

// ---------------------------------------------------------------- logs

export interface CapturedLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger that keeps its lines in memory (debug and above). */
export function captureLog(): { log: Log; lines: CapturedLine[]; messages: (minLevel?: number) => string[] } {
  const lines: CapturedLine[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => lines.push(JSON.parse(s) as CapturedLine) });
  return {
    log,
    lines,
    messages: (minLevel = 30) => lines.filter((l) => l.level >= minLevel).map((l) => l.msg),
  };
}
