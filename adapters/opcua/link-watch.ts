/**
 * Watches one OPC UA connection and says when it is dead, once: the channel closing, node-opcua
 * trying to repair the session or the channel by itself (which plantbridge forbids: the connection
 * machine owns reconnection), a server state that means shutdown, and silence. Silence is measured
 * on the monotonic clock from the last answer of any kind (keep-alive reads, publish responses,
 * every other response): a wall-clock step can never fake it or hide it.
 */
import { type ClientSession, ServerState, type StatusCode, StatusCodes } from "node-opcua-client";
import type { Clock } from "../../lib/clock.ts";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import type { OpcuaConnection } from "./connection.ts";
import { statusName } from "./status.ts";

export interface WatchDeps {
  unit: OpcuaUnitConfig;
  log: Log;
  clock: Clock;
  /** The connection is dead; called at most once by the link (it ignores repeats). */
  reportLost(error: PlantbridgeError): void;
}

/** Client events that mean node-opcua is trying to repair the link itself, which maxRetry 0 forbids. */
const RECONNECT_EVENTS = [
  "backoff",
  "start_reconnection",
  "reconnecting",
  "connection_reestablished",
] as const;

const DEAD_SERVER_STATES = new Set([
  ServerState.Shutdown,
  ServerState.Failed,
  ServerState.CommunicationFault,
]);

/** Starts watching; `conn.stopWatching` stops the watchdog (the listeners die with the client). */
export function watchConnection(conn: OpcuaConnection, deps: WatchDeps): void {
  const { unit, log, clock } = deps;
  const origin = { unit: unit.name };
  const lost = (code: typeof ErrorCode.LINK_LOST | typeof ErrorCode.OPCUA_TIMEOUT, message: string) =>
    deps.reportLost(new PlantbridgeError(code, message, origin));
  const { client, session } = conn;

  client.on("receive_response", () => {
    conn.lastAnswerAt = clock.monotonic();
  });
  client.on("connection_lost", () => lost(ErrorCode.LINK_LOST, "connection to the server lost"));
  client.on("close", (err?: Error | null) =>
    lost(ErrorCode.LINK_LOST, `secure channel closed${err ? `: ${err.message}` : ""}`),
  );
  for (const event of RECONNECT_EVENTS) {
    client.on(event, () => log.error({ event }, "node-opcua tried to reconnect by itself (maxRetry is 0)"));
  }
  // node-opcua repairs a session the server no longer knows (BadSessionIdInvalid) by itself, with
  // no setting to turn it off: the first thing it sends is an ActivateSession (or CreateSession).
  // Seeing one after connect means the session is gone: report lost and stop the repair.
  client.on("send_request", (request: { schema?: { name?: string } }) => {
    const name = request.schema?.name;
    if (name === "ActivateSessionRequest" || name === "CreateSessionRequest") {
      stopSessionRepair(session);
      lost(ErrorCode.LINK_LOST, "the server no longer knows the session (BadSessionIdInvalid)");
    }
  });
  for (const event of ["session_repaired", "session_restored"] as const) {
    session.on(event, () => log.error({ event }, "node-opcua repaired the session by itself"));
  }
  client.on("timed_out_request", (request: { schema?: { name?: string } }) =>
    log.debug({ request: request.schema?.name }, "OPC UA request timed out"),
  );
  session.on("session_closed", (status) =>
    lost(ErrorCode.LINK_LOST, `session closed (${statusName(status)})`),
  );
  session.on("keepalive_failure", () =>
    lost(ErrorCode.OPCUA_TIMEOUT, `session keep-alive failed (no answer within ${unit.timeoutMs} ms)`),
  );
  session.on("keepalive", (state: ServerState) => {
    if (DEAD_SERVER_STATES.has(state)) lost(ErrorCode.LINK_LOST, `server state is ${ServerState[state]}`);
  });
  conn.stopWatching = startWatchdog(conn, deps);
}

/**
 * A session that has heard nothing from the server for keepAliveMs + timeoutMs is dead. On a
 * healthy idle link node-opcua's keep-alive read answers about every keepAliveMs (its own check
 * waits at least 5 s, hence this one); publish responses and every other answer count too.
 */
function startWatchdog(conn: OpcuaConnection, deps: WatchDeps): () => void {
  const { unit, clock } = deps;
  const limit = unit.keepAliveMs + unit.timeoutMs;
  const timer = setInterval(
    () => {
      const silent = Math.round(clock.monotonic() - conn.lastAnswerAt);
      if (silent > limit) {
        deps.reportLost(
          new PlantbridgeError(
            ErrorCode.OPCUA_TIMEOUT,
            `no answer from the server for ${silent} ms (keep-alive ${unit.keepAliveMs} ms)`,
            { unit: unit.name },
          ),
        );
      }
    },
    Math.max(20, Math.min(unit.keepAliveMs, unit.timeoutMs) / 4),
  );
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Marks the session closed on the client side, so node-opcua's repair (which checks it before
 * every step) gives up after the request already on its way. `emitCloseEvent` is not in the
 * ClientSession interface but is how node-opcua itself marks a session the server closed.
 */
function stopSessionRepair(session: ClientSession): void {
  const impl = session as unknown as { emitCloseEvent?: (status: StatusCode) => void };
  impl.emitCloseEvent?.(StatusCodes.BadSessionIdInvalid);
}
