/**
 * The Modbus TCP link to one unit (one PLC), over the jsmodbus client.
 *
 * - One socket and one transaction queue per connection: one request in flight, the rest wait in order.
 * - `connect()` and every request are bounded by the unit's `timeoutMs` (own timers). A request that
 *   times out kills the connection: the socket is destroyed (so a late reply can never be matched to a
 *   later request), every waiting request rejects, and `lost` fires with PB_ERR_MODBUS_TIMEOUT.
 * - A socket that closes or fails by itself fires `lost` with PB_ERR_LINK_LOST. `lost` fires at most once
 *   per connection and never for a `close()` the caller asked for.
 * - A Modbus exception reply concerns only the tags of that request: they read with bad quality and
 *   the reason (`Modbus exception 2 (illegal data address)`); the link stays up.
 * - jsmodbus sees only replies the frame guard let through (guarded-socket.ts): bytes that answer no
 *   request in flight exactly (wrong transaction or unit id, bad MBAP length, wrong function code or
 *   byte count, garbage) kill the connection with PB_ERR_MODBUS_PROTOCOL, like a timeout does.
 * - The link never retries or reconnects: the connection machine decides that.
 */
import { Socket } from "node:net";
import { ModbusTCPClient } from "jsmodbus";
import { type Clock, systemClock } from "../../lib/clock.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { ModbusUnitConfig } from "../../schemas/plant-types.ts";
import type { Reading, ReadingStamp, TagValue, UnitLink } from "../types.ts";
import { isBitArea } from "./codec.ts";
import { modbusExceptionReason } from "./exception-codes.ts";
import { type GuardedSocket, guardSocket } from "./guarded-socket.ts";
import { toPlantbridgeError } from "./library-errors.ts";
import type { PlannedRequest } from "./request-plan.ts";
import { createTransactionQueue, type TransactionQueue } from "./transaction-queue.ts";
import { type AreaValues, createUnitTags } from "./unit-tags.ts";

export interface ModbusLinkDeps {
  log: Log;
  /** Stamps readings (wall clock) and their receive time (monotonic); default the system's clocks. */
  clock?: Clock;
}

interface Connection {
  socket: Socket;
  /** What jsmodbus reads from: only replies that answer a request in flight. */
  wire: GuardedSocket;
  client: ModbusTCPClient;
  queue: TransactionQueue;
  /** Set once the connection is dead (lost or closed); it never carries requests again. */
  ended: boolean;
  closed: Promise<void>;
}

export function createModbusLink(unit: ModbusUnitConfig, deps: ModbusLinkDeps): UnitLink {
  const log = deps.log.child({ unit: unit.name, protocol: "modbus-tcp" });
  const clock = deps.clock ?? systemClock;
  const stamp = (): ReadingStamp => ({ time: clock.wall(), receivedAt: clock.monotonic() });
  const tags = createUnitTags(unit);
  const lostListeners = new Set<(error: PlantbridgeError) => void>();
  let connection: Connection | undefined;
  let connecting: { promise: Promise<void>; abort: (error: PlantbridgeError) => void } | undefined;

  const origin = tags.origin;

  function emitLost(error: PlantbridgeError): void {
    log.warn({ code: error.code }, `link lost: ${error.message}`);
    for (const listener of [...lostListeners]) {
      try {
        listener(error);
      } catch (e) {
        log.error({ err: errorMessage(e) }, "a lost-link listener threw");
      }
    }
  }

  /** Ends a connection that died by itself: destroys it, rejects everything waiting, fires `lost` once. */
  function lose(conn: Connection, error: PlantbridgeError): void {
    if (conn.ended) return;
    conn.ended = true;
    conn.socket.destroy();
    conn.queue.failAll(error);
    if (connection === conn) connection = undefined;
    emitLost(error);
  }

  /** Opens a new connection; `exposeAbort` receives the function that cancels it while it is opening. */
  function openSocket(exposeAbort: (abort: (error: PlantbridgeError) => void) => void): Promise<void> {
    const socket = new Socket();
    const wire = guardSocket(socket, (message) => {
      lose(
        conn,
        new PlantbridgeError(ErrorCode.MODBUS_PROTOCOL, `Modbus protocol error: ${message}`, origin()),
      );
    });
    // jsmodbus's own request timer is a fallback only: ours (timeoutMs) always fires first.
    const client = new ModbusTCPClient(wire.forLibrary, unit.unitId, unit.timeoutMs * 2 + 1000);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    let lastSocketError: string | undefined;
    socket.on("error", (e) => {
      lastSocketError = errorMessage(e);
    });

    const conn: Connection = {
      socket,
      wire,
      client,
      closed,
      ended: false,
      queue: createTransactionQueue({
        timeoutMs: unit.timeoutMs,
        unit: unit.name,
        onTimeout: (error) => lose(conn, error),
      }),
    };

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: PlantbridgeError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        connecting = undefined;
        if (error === undefined) {
          connection = conn;
          socket.on("close", () => {
            const reason = lastSocketError ?? "closed by the unit";
            lose(conn, new PlantbridgeError(ErrorCode.LINK_LOST, `socket closed: ${reason}`, origin()));
          });
          log.info({ host: unit.host, port: unit.port, unitId: unit.unitId }, "connected");
          resolve();
        } else {
          conn.ended = true;
          socket.destroy();
          reject(error);
        }
      };
      const timer = setTimeout(() => {
        settle(
          new PlantbridgeError(
            ErrorCode.MODBUS_TIMEOUT,
            `no connection to ${unit.host}:${unit.port} within ${unit.timeoutMs} ms`,
            origin(),
          ),
        );
      }, unit.timeoutMs);
      socket.once("connect", () => settle());
      socket.once("close", () =>
        settle(
          new PlantbridgeError(
            ErrorCode.MODBUS_OFFLINE,
            `cannot connect to ${unit.host}:${unit.port}: ${lastSocketError ?? "connection closed"}`,
            origin(),
          ),
        ),
      );
      exposeAbort((error) => settle(error));
      socket.setNoDelay(true);
      socket.setKeepAlive(true, Math.max(1000, unit.timeoutMs));
      try {
        socket.connect({ host: unit.host, port: unit.port });
      } catch (e) {
        // e.g. a port outside 0..65535: settle after `connect()` has recorded this attempt
        const error = new PlantbridgeError(
          ErrorCode.MODBUS_OFFLINE,
          `cannot connect: ${errorMessage(e)}`,
          origin(),
        );
        process.nextTick(() => settle(error));
      }
    });
  }

  function connect(): Promise<void> {
    if (connection !== undefined && !connection.ended) return Promise.resolve();
    if (connecting !== undefined) return connecting.promise;
    let abort: (error: PlantbridgeError) => void = () => {};
    const promise = openSocket((a) => {
      abort = a;
    });
    connecting = { promise, abort: (error) => abort(error) };
    return promise;
  }

  function liveConnection(tag?: string): Connection {
    if (connection === undefined || connection.ended) {
      throw new PlantbridgeError(ErrorCode.NOT_CONNECTED, "not connected", origin(tag));
    }
    return connection;
  }

  async function readArea(client: ModbusTCPClient, request: PlannedRequest): Promise<AreaValues> {
    const { address, count } = request;
    switch (request.area) {
      case "holding": {
        const reply = await client.readHoldingRegisters(address, count);
        return { kind: "words", words: wordsOf(reply.response.body.valuesAsBuffer) };
      }
      case "input": {
        const reply = await client.readInputRegisters(address, count);
        return { kind: "words", words: wordsOf(reply.response.body.valuesAsBuffer) };
      }
      case "coil": {
        const reply = await client.readCoils(address, count);
        return { kind: "bits", bits: bitsOf(reply.response.body.valuesAsArray) };
      }
      case "discrete": {
        const reply = await client.readDiscreteInputs(address, count);
        return { kind: "bits", bits: bitsOf(reply.response.body.valuesAsArray) };
      }
    }
  }

  async function read(names: readonly string[]): Promise<Map<string, Reading>> {
    const plan = tags.planFor(names);
    const conn = liveConnection();
    const parts = await Promise.all(
      plan.map((request) =>
        conn.queue
          .run(`read ${request.area} ${request.address}+${request.count}`, () =>
            readArea(conn.client, request),
          )
          .then(
            (values) => tags.decode(request, values, stamp()),
            (e: unknown) => exceptionReadings(request, e, conn),
          ),
      ),
    );
    if (parts.length === 1) return parts[0] as Map<string, Reading>;
    // forEach, not for…of: no [name, reading] pair allocated per tag (thousands per storage cycle).
    const result = new Map<string, Reading>();
    for (const part of parts)
      part.forEach((reading, name) => {
        result.set(name, reading);
      });
    return result;
  }

  /** A Modbus exception marks the request's tags bad; anything else is the link's failure and rejects. */
  function exceptionReadings(request: PlannedRequest, e: unknown, conn: Connection): Map<string, Reading> {
    const code = conn.wire.exceptionCode(e);
    if (code === undefined) throw linkFailure(e, conn);
    const reason = modbusExceptionReason(code);
    log.debug({ area: request.area, address: request.address, count: request.count, code }, reason);
    return tags.bad(request, reason, stamp(), ErrorCode.MODBUS_EXCEPTION);
  }

  /**
   * A failure that is not a Modbus exception: the connection cannot be trusted any more (protocol
   * out of sync, offline). Kills it so `lost` fires, and returns the error to reject with.
   */
  function linkFailure(e: unknown, conn: Connection, tag?: string): PlantbridgeError {
    const error = toPlantbridgeError(e, origin(tag));
    if (!conn.ended) lose(conn, error);
    return error;
  }

  async function write(name: string, value: TagValue): Promise<void> {
    const { tag, words } = tags.checkWrite(name, value);
    const conn = liveConnection(name);
    const what = `write ${tag.area} ${tag.address}`;
    try {
      await conn.queue.run(what, async () => {
        if (isBitArea(tag.area)) {
          await conn.client.writeSingleCoil(tag.address, words[0] === 1);
        } else if (words.length === 1) {
          await conn.client.writeSingleRegister(tag.address, words[0] ?? 0);
        } else {
          await conn.client.writeMultipleRegisters(tag.address, words);
        }
      });
    } catch (e) {
      const code = conn.wire.exceptionCode(e);
      if (code !== undefined) {
        throw new PlantbridgeError(ErrorCode.MODBUS_EXCEPTION, modbusExceptionReason(code), origin(name), {
          cause: e,
        });
      }
      if (e instanceof PlantbridgeError) throw withTag(e, name);
      throw linkFailure(e, conn, name);
    }
    log.debug({ tag: name, value }, "written");
  }

  function withTag(e: PlantbridgeError, tag: string): PlantbridgeError {
    if (e.origin.tag !== undefined) return e;
    return new PlantbridgeError(e.code, e.message, { ...e.origin, tag }, { cause: e });
  }

  async function close(): Promise<void> {
    connecting?.abort(
      new PlantbridgeError(ErrorCode.NOT_CONNECTED, "link closed while connecting", origin()),
    );
    const conn = connection;
    connection = undefined;
    if (conn === undefined) return;
    if (!conn.ended) {
      conn.ended = true;
      conn.queue.failAll(new PlantbridgeError(ErrorCode.NOT_CONNECTED, "link closed", origin()));
      conn.socket.destroy();
      log.info("closed");
    }
    await conn.closed;
  }

  function onLost(listener: (error: PlantbridgeError) => void): () => void {
    lostListeners.add(listener);
    return () => {
      lostListeners.delete(listener);
    };
  }

  return { unit: unit.name, connect, read, write, close, onLost };
}

function bitsOf(values: ReadonlyArray<boolean | number>): boolean[] {
  return values.map((v) => v === true || v === 1);
}

function wordsOf(buffer: Buffer): number[] {
  const words: number[] = [];
  for (let i = 0; i + 1 < buffer.length; i += 2) words.push(buffer.readUInt16BE(i));
  return words;
}
