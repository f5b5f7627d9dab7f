/**
 * The PEMEL simulator: a Modbus TCP server on loopback with PEMEL's register map, plausible dynamics
 * and fault injection.
 *
 * The TCP side is ours (a `net.Server` per listening period and every socket tracked), so faults can
 * drop, refuse and starve connections. Each request frame is inspected first (faults, unit id, protocol
 * limits, read-only registers); the ones that pass are served by jsmodbus's `ModbusTCPServer` over the
 * register buffers, one frame at a time, so replies leave in request order.
 */
import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { ModbusTCPServer } from "jsmodbus";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import { type Log, silentLog } from "../../lib/log.ts";
import type { ConnectionFault, FaultControl } from "../fault-control.ts";
import {
  initialPemelState,
  type PemelState,
  statusWordOf,
  stepPemel,
  writePemelRegisters,
} from "./dynamics.ts";
import { defaultCurveFile, loadFlowCurve } from "./flow-curve.ts";
import {
  createFrameReader,
  exceptionReply,
  type Frame,
  overlaps,
  parseRequest,
  type RequestScope,
} from "./mbap.ts";
import { pemelAddress, readOnlyRange } from "./register-map.ts";
import { createServedLog, defaultServedLogCap, type ServedLog } from "./served-log.ts";

export type PemelFault =
  | ConnectionFault
  /** Reply with this Modbus exception to reads and writes that touch `addresses` (inclusive; absent = all). */
  | { kind: "exception"; code: 2 | 4 | 6; addresses?: readonly [number, number] }
  /**
   * Like many small PLCs: one TCP connection at a time (the listener closes while one is open, so a
   * second connect is refused) and one transaction at a time (a request pipelined behind another in
   * the same segment gets exception 6, server device busy). Open connections are kept when set.
   */
  | { kind: "single-connection" }
  /**
   * The hydrogen cooling loses its temperature: status bit 10 ("Hydrogen cooling temperature
   * reached", the control loop's permissive) reads 0 until cleared; the rest of the unit runs on.
   */
  | { kind: "cooling-lost" };

export interface PemelSimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) = a free port. `restart()` listens on the same port again. */
  port?: number;
  /** Unit id the simulator answers to (default 0, like PEMEL); other ids get exception 11. */
  unitId?: number;
  /** Current → H2 flow curve; default the reference curve in calibration/. */
  curveFile?: string;
  /** Simulated time until bit 10 (hydrogen cooling temperature reached), default 5000 ms. */
  warmUpMs?: number;
  /** First-order time constant of the current following the set point, default 2000 ms. */
  timeConstantMs?: number;
  /** Dynamics update period, default 100 ms; 0 = no automatic updates (tests call `step()`). */
  tickMs?: number;
  /** Epoch ms for the served log and the automatic steps; default Date.now. */
  clock?: () => number;
  /** Entries kept per served list (counts stay exact), default 100 000. */
  servedLogCap?: number;
  log?: Log;
}

export interface PemelSimulator extends FaultControl<PemelFault> {
  readonly port: number;
  readonly host: string;
  /** A copy of the plant model's state. */
  state(): PemelState;
  /** Advances the dynamics by `dtMs` of simulated time and updates the registers (deterministic). */
  step(dtMs: number): void;
  /** Drops every connection and listens again on the same port. The plant state and faults are kept (retained PLC memory). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  readonly served: ServedLog;
  /** Open TCP connections. */
  connections(): number;
  /** Resolves when listening matches the faults (after clearing refuse-connections, for instance). */
  ready(): Promise<void>;
  /** The live register buffers (2 bytes per register, 1 bit per coil), for tests that poke or inspect memory. */
  memory(): { holding: Buffer; input: Buffer; coils: Buffer; discrete: Buffer };
}

/**
 * Stands in for a socket towards jsmodbus: takes one request frame, keeps jsmodbus's synchronous reply.
 * jsmodbus's server client only calls `on("data")` and `write(buffer, callback)`.
 */
class RequestPort extends EventEmitter {
  reply: Buffer | undefined;
  write(data: Buffer, callback?: () => void): boolean {
    this.reply = data;
    if (callback) queueMicrotask(callback);
    return true;
  }
}

interface Connection {
  socket: Socket;
  reader: ReturnType<typeof createFrameReader>;
  port: RequestPort;
}

const listenRetries = 40;
const maxSliceMs = 100;

export async function startPemelSimulator(options: PemelSimulatorOptions = {}): Promise<PemelSimulator> {
  const host = options.host ?? "127.0.0.1";
  const unitId = options.unitId ?? 0;
  const clock = options.clock ?? Date.now;
  const tickMs = options.tickMs ?? 100;
  const log = (options.log ?? silentLog()).child({ simulator: "PEMEL" });
  const params = {
    curve: await loadFlowCurve(options.curveFile ?? defaultCurveFile),
    warmUpMs: options.warmUpMs ?? 5000,
    timeConstantMs: options.timeConstantMs ?? 2000,
  };
  const served = createServedLog(options.servedLogCap ?? defaultServedLogCap);
  const memory = {
    holding: Buffer.alloc(0x10000 * 2),
    input: Buffer.alloc(0x10000 * 2),
    coils: Buffer.alloc(0x10000 / 8),
    discrete: Buffer.alloc(0x10000 / 8),
  };
  const state = initialPemelState();
  writePemelRegisters(state, memory.holding);

  // jsmodbus serves the buffers; it gets its connections from this gate, not from a real net.Server.
  const gate = new EventEmitter();
  // The constructor only calls `.on("connection")` on what it is given: an EventEmitter is enough.
  new ModbusTCPServer(gate as unknown as Server, memory);

  const faults = new Map<PemelFault["kind"], PemelFault>();
  const connections = new Set<Connection>();
  const openServers = new Set<Server>();
  let listener: Server | undefined;
  let port = options.port ?? 0;
  let running = true;
  let restarting = false;
  let listening: Promise<void> = Promise.resolve();

  function wantListening(): boolean {
    if (!running || restarting || faults.has("refuse-connections")) return false;
    return !(faults.has("single-connection") && connections.size >= 1);
  }

  function listenOnce(): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => accept(socket));
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off("error", reject);
        server.on("error", (e) => log.error({ err: errorMessage(e) }, "listener error"));
        openServers.add(server);
        server.once("close", () => openServers.delete(server));
        resolve(server);
      });
    });
  }

  async function openListener(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (!wantListening() || listener !== undefined) return;
      try {
        const server = await listenOnce();
        const address = server.address();
        if (address !== null && typeof address === "object") port = address.port;
        listener = server;
        if (!wantListening()) closeListener();
        return;
      } catch (e) {
        const code = typeof e === "object" && e !== null && "code" in e ? e.code : undefined;
        if (code !== "EADDRINUSE" || attempt >= listenRetries) {
          throw new PlantbridgeError(
            ErrorCode.SIMULATOR,
            `PEMEL cannot listen on ${host}:${port}: ${errorMessage(e)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  /** Closes the listener now (synchronously stops accepting); open connections stay. */
  function closeListener(): void {
    const server = listener;
    listener = undefined;
    server?.close();
  }

  /** Brings listening in line with the faults: closes at once, (re)opens in order. */
  function syncListening(): Promise<void> {
    if (!wantListening()) closeListener();
    listening = listening.then(openListener, openListener);
    listening.catch((e: unknown) => log.error({ err: errorMessage(e) }, "listen failed"));
    return listening;
  }

  function accept(socket: Socket): void {
    if (!wantListening()) {
      socket.destroy();
      return;
    }
    const conn: Connection = { socket, reader: createFrameReader(), port: new RequestPort() };
    gate.emit("connection", conn.port);
    connections.add(conn);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("data", (data: Buffer) => onData(conn, data));
    socket.on("close", () => {
      connections.delete(conn);
      if (running && !restarting) void syncListening().catch(() => {});
    });
    if (!wantListening()) closeListener();
  }

  function onData(conn: Connection, data: Buffer): void {
    const frames = conn.reader.push(data);
    if (frames === "corrupt") {
      conn.socket.destroy();
      return;
    }
    frames.forEach((frame, index) => {
      serve(conn, frame, index > 0);
    });
  }

  function reply(conn: Connection, bytes: Buffer): void {
    if (!conn.socket.destroyed) conn.socket.write(bytes);
  }

  function refuse(conn: Connection, frame: Frame, code: number): void {
    served.exception();
    reply(conn, exceptionReply(frame, code));
  }

  /** What the unit does with a request before touching its registers: serve it (scope) or refuse it (code). */
  function admit(frame: Frame, pipelined: boolean): { scope: RequestScope } | { exceptionCode: number } {
    if (frame.unitId !== unitId) return { exceptionCode: 11 };
    if (pipelined && faults.has("single-connection")) return { exceptionCode: 6 };
    const parsed = parseRequest(frame);
    if (!parsed.ok) return { exceptionCode: parsed.exceptionCode };
    const scope = parsed.scope;
    const injected = faults.get("exception");
    if (
      injected?.kind === "exception" &&
      (injected.addresses === undefined || overlaps(scope, injected.addresses))
    ) {
      return { exceptionCode: injected.code };
    }
    if (scope.access === "write" && scope.area === "holding" && overlaps(scope, readOnlyRange)) {
      return { exceptionCode: 2 };
    }
    return { scope };
  }

  function serve(conn: Connection, frame: Frame, pipelined: boolean): void {
    if (faults.has("stop-answering")) {
      served.unanswered();
      return;
    }
    const admitted = admit(frame, pipelined);
    if ("exceptionCode" in admitted) {
      refuse(conn, frame, admitted.exceptionCode);
      return;
    }
    conn.port.reply = undefined;
    conn.port.emit("data", frame.bytes);
    const answer = conn.port.reply;
    if (answer === undefined) {
      // jsmodbus kept the frame (it could not parse it): start it afresh for this connection.
      conn.port = new RequestPort();
      gate.emit("connection", conn.port);
      refuse(conn, frame, 4);
      return;
    }
    if (((answer[7] ?? 0) & 0x80) !== 0) served.exception();
    else record(admitted.scope);
    reply(conn, answer);
  }

  function record(scope: RequestScope): void {
    const time = clock();
    if (scope.access === "read") {
      served.read({
        time,
        area: scope.area,
        address: scope.address,
        count: scope.count,
        values: valuesAt(scope),
      });
      return;
    }
    const area = scope.area === "coil" ? "coil" : "holding";
    served.registerWrite({ time, area, address: scope.address, values: scope.values });
    const sp = pemelAddress.currentSetpoint;
    if (area === "holding" && overlaps(scope, [sp, sp])) {
      const value = memory.holding.readUInt16BE(sp * 2);
      state.setpoint = value;
      served.write({ time, address: sp, value });
    }
  }

  function valuesAt(scope: RequestScope): number[] {
    const values: number[] = [];
    for (let a = scope.address; a < scope.address + scope.count; a++) {
      if (scope.area === "holding" || scope.area === "input") {
        values.push(memory[scope.area].readUInt16BE(a * 2));
      } else {
        const bits = scope.area === "coil" ? memory.coils : memory.discrete;
        values.push(((bits[a >> 3] ?? 0) >> (a & 7)) & 1);
      }
    }
    return values;
  }

  /** The model's state into the registers, with the faults that override what the unit reports. */
  function publishRegisters(): void {
    if (faults.has("cooling-lost")) {
      state.coolingReady = false;
      state.statusWord = statusWordOf(state);
    }
    writePemelRegisters(state, memory.holding);
  }

  /** Large steps are taken in slices of at most `maxSliceMs`, so the lags and the volume stay smooth. */
  function step(dtMs: number): void {
    state.setpoint = memory.holding.readUInt16BE(pemelAddress.currentSetpoint * 2);
    for (let left = dtMs; left > 0; left -= maxSliceMs) stepPemel(state, Math.min(left, maxSliceMs), params);
    publishRegisters();
  }

  /** A fault that changes what the unit reports takes effect at once, not at the next tick. */
  function faultsChanged(): void {
    // stepPemel recomputes bit 10 from the uptime: a zero step brings it back after cooling-lost.
    state.coolingReady = state.uptimeMs >= params.warmUpMs;
    state.statusWord = statusWordOf(state);
    publishRegisters();
    void syncListening().catch(() => {});
  }

  function dropConnections(): void {
    for (const conn of connections) conn.socket.destroy();
  }

  let lastTick = clock();
  const ticker =
    tickMs > 0
      ? setInterval(() => {
          const now = clock();
          step(now - lastTick);
          lastTick = now;
        }, tickMs)
      : undefined;
  ticker?.unref();

  await syncListening();

  const simulator: PemelSimulator = {
    host,
    get port() {
      return port;
    },
    served,
    state: () => ({ ...state, outletTemperatures: [...state.outletTemperatures] }),
    step,
    connections: () => connections.size,
    memory: () => memory,
    ready: () => syncListening(),
    setFault(fault) {
      if (fault.kind === "drop-connections") {
        log.info("fault: drop connections");
        dropConnections();
        return;
      }
      log.info({ fault }, "fault set");
      faults.set(fault.kind, fault);
      faultsChanged();
    },
    clearFault(kind) {
      if (!faults.delete(kind)) return;
      log.info({ kind }, "fault cleared");
      faultsChanged();
    },
    clearFaults() {
      faults.clear();
      faultsChanged();
    },
    activeFaults: () => [...faults.values()],
    async restart() {
      restarting = true;
      closeListener();
      dropConnections();
      await listening.catch(() => {});
      restarting = false;
      await syncListening();
    },
    async stop() {
      running = false;
      if (ticker !== undefined) clearInterval(ticker);
      closeListener();
      dropConnections();
      await listening.catch(() => {});
      await Promise.all(
        [...openServers].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
  return simulator;
}
