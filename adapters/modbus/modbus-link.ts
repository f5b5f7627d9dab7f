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
import { type Clock, systemClock } from "../../lib/clock.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { ModbusUnitConfig } from "../../schemas/plant-types.ts";
import type { ReadingStamp, TagValue, UnitLink } from "../types.ts";
import { type Connection, openConnection } from "./modbus-connection.ts";
import { createTagTraffic } from "./modbus-tag-traffic.ts";
import { createUnitTags } from "./unit-tags.ts";

export interface ModbusLinkDeps {
  log: Log;
  /** Stamps readings (wall clock) and their receive time (monotonic); default the system's clocks. */
  clock?: Clock;
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

  function connect(): Promise<void> {
    if (connection !== undefined && !connection.ended) return Promise.resolve();
    if (connecting !== undefined) return connecting.promise;
    let abort: (error: PlantbridgeError) => void = () => {};
    const promise = openConnection(unit, {
      log,
      origin: () => origin(),
      exposeAbort: (a) => {
        abort = a;
      },
      settled: (conn) => {
        connecting = undefined;
        if (conn !== undefined) connection = conn;
      },
      died: lose,
    });
    connecting = { promise, abort: (error) => abort(error) };
    return promise;
  }

  const traffic = createTagTraffic({ tags, log, stamp, lose });
  const read = (names: readonly string[]) => traffic.read(names, liveConnection);
  const write = (name: string, value: TagValue) => traffic.write(name, value, liveConnection);

  function liveConnection(tag?: string): Connection {
    if (connection === undefined || connection.ended) {
      throw new PlantbridgeError(ErrorCode.NOT_CONNECTED, "not connected", origin(tag));
    }
    return connection;
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
