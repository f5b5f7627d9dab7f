/**
 * The Modbus scale simulator: N units × M holding registers whose values change at a set rate
 * (scale-values.ts), for benches and tests of plants far larger than the reference plant.
 *
 * Two shapes, both on loopback:
 * - `devices`: N servers on N ports, one unit each (separate PLCs);
 * - `gateway`: one server, one port, N unit ids (a Modbus TCP gateway with many devices behind it).
 *
 * Registers 0..M-1 are served from the holding (FC3) and the input (FC4) area alike, computed when a
 * request arrives (nothing to update between changes, so the simulator costs little next to what it
 * measures). Requests are answered in order, pipelined ones too. Reads past M get exception 2, the
 * bit areas exception 2, writes exception 1 (the registers are read-only); a unit id the server does
 * not serve gets exception 11 (gateway target device failed to respond). A unit id made silent
 * (`setSilent`) reads its requests and never answers, as a device that died behind a gateway.
 * Every request is counted per unit id (scale-served.ts).
 */
import { createServer, type Server, type Socket } from "node:net";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import { createFrameReader, exceptionReply, type Frame, parseRequest } from "../pemel/mbap.ts";
import { createScaleServed, type ScaleServed } from "./scale-served.ts";
import { scaleValue } from "./scale-values.ts";

export type ScaleShape = "devices" | "gateway";

export interface ScaleSimulatorOptions {
  /** Units (N). */
  units: number;
  /** Holding registers per unit (M), 1..65536. */
  registers: number;
  shape: ScaleShape;
  /** Unit id of the first unit; the others follow (default 1). */
  firstUnitId?: number;
  /** A new tick (every value changes) every this many ms; default 1000. */
  changeEveryMs?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Monotonic ms; default performance.now. */
  clock?: () => number;
  /** Served requests kept per unit (counts stay exact); default 10 000. */
  servedLogCap?: number;
}

/** One simulated unit: where it is reached. */
export interface ScaleUnit {
  /** 0-based, the `u` of the value function. */
  index: number;
  unitId: number;
  host: string;
  port: number;
}

export interface ModbusScaleSimulator {
  readonly units: readonly ScaleUnit[];
  readonly registers: number;
  readonly changeEveryMs: number;
  /** The tick now: values served now come from it. */
  tick(): number;
  /** What register `register` of unit `index` holds at `tick`. */
  valueAt(index: number, register: number, tick: number): number;
  readonly served: ScaleServed;
  /** A silent unit id reads its requests and never answers, until made audible again. */
  setSilent(unitId: number, silent: boolean): void;
  /** The unit id answers each request this late (0: at once); replies may then overtake each other. */
  setReplyDelay(unitId: number, delayMs: number): void;
  /** Destroys every open connection now (the servers keep listening). */
  dropConnections(): void;
  /** Open TCP connections over all servers. */
  connections(): number;
  stop(): Promise<void>;
}

const maxUnits = 247;

export async function startModbusScaleSimulator(
  options: ScaleSimulatorOptions,
): Promise<ModbusScaleSimulator> {
  const { units: count, registers, shape } = options;
  const firstUnitId = options.firstUnitId ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > maxUnits || firstUnitId + count - 1 > 255) {
    throw new PlantbridgeError(ErrorCode.SIMULATOR, `units must be 1..${maxUnits} with unit ids up to 255`);
  }
  if (!Number.isInteger(registers) || registers < 1 || registers > 0x10000) {
    throw new PlantbridgeError(ErrorCode.SIMULATOR, "registers must be 1..65536");
  }
  const host = options.host ?? "127.0.0.1";
  const clock = options.clock ?? (() => performance.now());
  const changeEveryMs = options.changeEveryMs ?? 1000;
  const startedAt = clock();
  const tick = () => Math.floor((clock() - startedAt) / changeEveryMs);
  const unitIds = Array.from({ length: count }, (_, i) => firstUnitId + i);
  const indexOf = new Map(unitIds.map((id, index) => [id, index]));
  const served = createScaleServed(unitIds, options.servedLogCap ?? 10_000);
  const silent = new Set<number>();
  const delays = new Map<number, number>();
  const sockets = new Set<Socket>();
  const servers: Server[] = [];

  /** The reply to one request, or undefined for none (silent unit id). */
  function answer(frame: Frame, serves: (unitId: number) => boolean): Buffer | undefined {
    const unitId = frame.unitId;
    if (!serves(unitId)) {
      served.exception(unitId);
      return exceptionReply(frame, 11);
    }
    if (silent.has(unitId)) {
      served.unanswered(unitId);
      return undefined;
    }
    const parsed = parseRequest(frame);
    let code = parsed.ok ? 0 : parsed.exceptionCode;
    if (parsed.ok) {
      const { access, area, address, count: quantity } = parsed.scope;
      if (access === "write") code = 1;
      else if (area === "coil" || area === "discrete" || address + quantity > registers) code = 2;
    }
    if (!parsed.ok || code !== 0) {
      served.exception(unitId);
      return exceptionReply(frame, code);
    }
    const { address, count: quantity } = parsed.scope;
    const now = tick();
    const index = indexOf.get(unitId) ?? 0;
    const reply = Buffer.alloc(9 + 2 * quantity);
    reply.writeUInt16BE(frame.transactionId, 0);
    reply.writeUInt16BE(0, 2);
    reply.writeUInt16BE(3 + 2 * quantity, 4);
    reply.writeUInt8(unitId, 6);
    reply.writeUInt8(frame.functionCode, 7);
    reply.writeUInt8(2 * quantity, 8);
    for (let i = 0; i < quantity; i++) reply.writeUInt16BE(scaleValue(index, address + i, now), 9 + 2 * i);
    served.read(unitId, { at: clock(), tick: now, address, count: quantity });
    return reply;
  }

  function accept(socket: Socket, serves: (unitId: number) => boolean): void {
    const reader = createFrameReader();
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.on("data", (data: Buffer) => {
      const frames = reader.push(data);
      if (frames === "corrupt") {
        socket.destroy();
        return;
      }
      const replies: Buffer[] = [];
      for (const frame of frames) {
        const reply = answer(frame, serves);
        const delayMs = delays.get(frame.unitId) ?? 0;
        if (reply === undefined) continue;
        if (delayMs > 0) {
          setTimeout(() => {
            if (!socket.destroyed) socket.write(reply);
          }, delayMs);
        } else replies.push(reply);
      }
      if (replies.length > 0 && !socket.destroyed) {
        socket.write(replies.length === 1 ? (replies[0] as Buffer) : Buffer.concat(replies));
      }
    });
  }

  function listen(serves: (unitId: number) => boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => accept(socket, serves));
      server.once("error", (e) =>
        reject(
          new PlantbridgeError(ErrorCode.SIMULATOR, `scale simulator cannot listen: ${errorMessage(e)}`),
        ),
      );
      server.listen({ host, port: 0 }, () => {
        servers.push(server);
        const address = server.address();
        resolve(address !== null && typeof address === "object" ? address.port : 0);
      });
    });
  }

  async function stop(): Promise<void> {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  const units: ScaleUnit[] = [];
  try {
    if (shape === "gateway") {
      const port = await listen((unitId) => indexOf.has(unitId));
      unitIds.forEach((unitId, index) => {
        units.push({ index, unitId, host, port });
      });
    } else {
      for (const [index, unitId] of unitIds.entries()) {
        const port = await listen((id) => id === unitId);
        units.push({ index, unitId, host, port });
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    units,
    registers,
    changeEveryMs,
    tick,
    valueAt: scaleValue,
    served,
    setSilent(unitId, on) {
      if (on) silent.add(unitId);
      else silent.delete(unitId);
    },
    setReplyDelay(unitId, delayMs) {
      if (delayMs > 0) delays.set(unitId, delayMs);
      else delays.delete(unitId);
    },
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    connections: () => sockets.size,
    stop,
  };
}
