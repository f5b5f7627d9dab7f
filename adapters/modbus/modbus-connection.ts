/**
 * One TCP connection of a Modbus link to its unit: the socket, the frame guard jsmodbus reads
 * through (guarded-socket.ts), the jsmodbus client and the transaction queue. Opening is bounded by
 * the unit's `timeoutMs`; it can be aborted while it is under way. The link decides what a
 * connection that dies means (modbus-link.ts); this file only reports it.
 */
import { Socket } from "node:net";
import { ModbusTCPClient } from "jsmodbus";
import { ErrorCode, type ErrorOrigin, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { ModbusUnitConfig } from "../../schemas/plant-types.ts";
import { type GuardedSocket, guardSocket } from "./guarded-socket.ts";
import { createTransactionQueue, type TransactionQueue } from "./transaction-queue.ts";

export interface Connection {
  socket: Socket;
  /** What jsmodbus reads from: only replies that answer a request in flight. */
  wire: GuardedSocket;
  client: ModbusTCPClient;
  queue: TransactionQueue;
  /** Set once the connection is dead (lost or closed); it never carries requests again. */
  ended: boolean;
  closed: Promise<void>;
}

export interface OpeningHooks {
  log: Log;
  origin(): ErrorOrigin;
  /** Receives the function that cancels the opening while it is under way. */
  exposeAbort(abort: (error: PlantbridgeError) => void): void;
  /** The opening settled: with the connection when it opened, undefined when it did not. */
  settled(conn: Connection | undefined): void;
  /** The connection died by itself (protocol violation, request timeout, socket closed once open). */
  died(conn: Connection, error: PlantbridgeError): void;
}

/** Opens a new connection to the unit; resolves once it is open (`settled` has been told first). */
export function openConnection(unit: ModbusUnitConfig, hooks: OpeningHooks): Promise<void> {
  const { log, origin } = hooks;
  const socket = new Socket();
  const wire = guardSocket(socket, (message) => {
    hooks.died(
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
      onTimeout: (error) => hooks.died(conn, error),
    }),
  };

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error?: PlantbridgeError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) {
        hooks.settled(conn);
        socket.on("close", () => {
          const reason = lastSocketError ?? "closed by the unit";
          hooks.died(conn, new PlantbridgeError(ErrorCode.LINK_LOST, `socket closed: ${reason}`, origin()));
        });
        log.info({ host: unit.host, port: unit.port, unitId: unit.unitId }, "connected");
        resolve();
      } else {
        hooks.settled(undefined);
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
    hooks.exposeAbort((error) => settle(error));
    dial(socket, unit, origin, settle);
  });
}

/** Starts the TCP connect; a synchronous refusal settles the opening after `connect()` has recorded it. */
function dial(
  socket: Socket,
  unit: ModbusUnitConfig,
  origin: () => ErrorOrigin,
  settle: (error: PlantbridgeError) => void,
): void {
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
}
