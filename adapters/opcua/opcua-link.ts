/**
 * The link to one OPC UA unit (METH on the reference plant). It connects once per `connect()`
 * (node-opcua never retries or reconnects on its own: maxRetry 0), reads with one Read call,
 * writes checked values, subscribes, and reports a dead link once through `onLost`.
 */
import {
  AttributeIds,
  type ClientSession,
  type DataValue,
  OPCUAClient,
  ServerState,
  type StatusCode,
  StatusCodes,
} from "node-opcua";
import { withDeadline } from "../../lib/deadline.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { OpcuaTagConfig, OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import type { Reading, TagValue, UnitLink, Unsubscribe } from "../types.ts";
import { checkSecurity, opcuaClientOptions, userIdentity } from "./client-options.ts";
import { prepareClientPki } from "./client-pki.ts";
import { type NodeIdResolution, resolveTagNodeIds, usesNamespaceUri } from "./node-ids.ts";
import { untrustedServerError } from "./server-trust.ts";
import { connectError, serviceError, severityOf, statusName } from "./status.ts";
import { openTagSubscription, type TagSubscription } from "./subscription.ts";
import { badReading, readingFromDataValue, variantForWrite } from "./values.ts";

export interface OpcuaLinkDeps {
  log: Log;
  /** PKI root; the client's certificate and trust lists go to `<pkiDir>/client`. */
  pkiDir: string;
  /** Epoch ms for readings without timestamps; default Date.now. */
  now?: () => number;
}

/** One connected client and session; a new one for every `connect()`. */
interface Connection {
  client: OPCUAClient;
  session: ClientSession;
  nodeIds: Map<string, NodeIdResolution>;
  subscriptions: Set<TagSubscription>;
  /** `lost` has been reported for this connection. */
  lost: boolean;
  /** `close()` has begun: events are expected and not reported. */
  closing: boolean;
  /** Our own keep-alive watchdog (node-opcua's keep-alive read waits at least 5 s). */
  watchdog?: NodeJS.Timeout;
  disposal?: Promise<void>;
}

/** Local, one-off: the client's key and certificate (not part of the unit's connect timeout). */
const PKI_DEADLINE_MS = 60_000;

/** Client events that mean node-opcua is trying to repair the link itself, which maxRetry 0 forbids. */
const RECONNECT_EVENTS = [
  "backoff",
  "start_reconnection",
  "reconnecting",
  "connection_reestablished",
] as const;

export function createOpcuaLink(unit: OpcuaUnitConfig, deps: OpcuaLinkDeps): UnitLink {
  checkSecurity(unit);
  const { log, pkiDir } = deps;
  const now = deps.now ?? Date.now;
  const tags = new Map<string, OpcuaTagConfig>(unit.tags.map((t) => [t.name, t]));
  const lostListeners = new Set<(error: PlantbridgeError) => void>();
  const origin = { unit: unit.name };
  const needsNamespaceArray = unit.tags.some((t) => usesNamespaceUri(t.nodeId));

  let current: Connection | undefined;
  let connecting: Promise<void> | undefined;
  /** Bumped by close(): a connect still under way when it changes throws its result away. */
  let epoch = 0;

  function reportLost(conn: Connection, error: PlantbridgeError): void {
    if (conn.lost || conn.closing) return;
    conn.lost = true;
    log.warn({ code: error.code, reason: error.message }, "OPC UA link lost");
    for (const s of conn.subscriptions) s.abandon();
    // Tear the client down at once so no node-opcua timer outlives the link; close() awaits the same.
    void dispose(conn);
    for (const listener of [...lostListeners]) {
      try {
        listener(error);
      } catch (e) {
        log.error({ err: errorMessage(e) }, "onLost listener threw");
      }
    }
  }

  function watch(conn: Connection): void {
    const { client, session } = conn;
    client.on("connection_lost", () =>
      reportLost(conn, new PlantbridgeError(ErrorCode.LINK_LOST, "connection to the server lost", origin)),
    );
    client.on("close", (err?: Error | null) =>
      reportLost(
        conn,
        new PlantbridgeError(
          ErrorCode.LINK_LOST,
          `secure channel closed${err ? `: ${err.message}` : ""}`,
          origin,
        ),
      ),
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
        reportLost(
          conn,
          new PlantbridgeError(
            ErrorCode.LINK_LOST,
            "the server no longer knows the session (BadSessionIdInvalid)",
            origin,
          ),
        );
      }
    });
    for (const event of ["session_repaired", "session_restored"] as const) {
      session.on(event, () => log.error({ event }, "node-opcua repaired the session by itself"));
    }
    client.on("timed_out_request", (request: { schema?: { name?: string } }) =>
      log.debug({ request: request.schema?.name }, "OPC UA request timed out"),
    );
    session.on("session_closed", (status) =>
      reportLost(
        conn,
        new PlantbridgeError(ErrorCode.LINK_LOST, `session closed (${statusName(status)})`, origin),
      ),
    );
    session.on("keepalive_failure", () =>
      reportLost(
        conn,
        new PlantbridgeError(
          ErrorCode.OPCUA_TIMEOUT,
          `session keep-alive failed (no answer within ${unit.timeoutMs} ms)`,
          origin,
        ),
      ),
    );
    session.on("keepalive", (state: ServerState) => {
      if (
        state === ServerState.Shutdown ||
        state === ServerState.Failed ||
        state === ServerState.CommunicationFault
      ) {
        reportLost(
          conn,
          new PlantbridgeError(ErrorCode.LINK_LOST, `server state is ${ServerState[state]}`, origin),
        );
      }
    });
  }

  /**
   * A session that has heard nothing from the server for keepAliveMs + timeoutMs is dead. On a
   * healthy idle link node-opcua's keep-alive read answers about every keepAliveMs; publish
   * responses and every other answer count too.
   */
  function startWatchdog(conn: Connection): void {
    const connectedAt = Date.now();
    const limit = unit.keepAliveMs + unit.timeoutMs;
    conn.watchdog = setInterval(
      () => {
        const last = Math.max(conn.session.lastResponseReceivedTime.getTime(), connectedAt);
        const silent = Date.now() - last;
        if (silent > limit) {
          reportLost(
            conn,
            new PlantbridgeError(
              ErrorCode.OPCUA_TIMEOUT,
              `no answer from the server for ${silent} ms (keep-alive ${unit.keepAliveMs} ms)`,
              origin,
            ),
          );
        }
      },
      Math.max(20, Math.min(unit.keepAliveMs, unit.timeoutMs) / 4),
    );
    conn.watchdog.unref();
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

  /** Closes session and client, each step bounded by the unit's timeout; idempotent per connection. */
  function dispose(conn: Connection): Promise<void> {
    if (conn.watchdog !== undefined) clearInterval(conn.watchdog);
    conn.watchdog = undefined;
    conn.disposal ??= (async () => {
      const subscriptions = [...conn.subscriptions];
      conn.subscriptions.clear();
      if (!conn.lost) {
        await Promise.all(subscriptions.map((s) => s.close()));
        try {
          await withDeadline(
            conn.session.close(true),
            unit.timeoutMs,
            () => new Error("CloseSession timed out"),
          );
        } catch (e) {
          log.debug({ err: errorMessage(e) }, "closing the session failed");
        }
      }
      try {
        await withDeadline(conn.client.disconnect(), unit.timeoutMs, () => new Error("disconnect timed out"));
      } catch (e) {
        log.warn({ err: errorMessage(e) }, "disconnecting the OPC UA client failed");
      }
    })();
    return conn.disposal;
  }

  async function openConnection(): Promise<void> {
    const myEpoch = epoch;
    try {
      await withDeadline(
        prepareClientPki(unit, pkiDir, log),
        PKI_DEADLINE_MS,
        () => new Error(`creating the client certificate took longer than ${PKI_DEADLINE_MS} ms`),
      );
    } catch (e) {
      throw new PlantbridgeError(
        ErrorCode.OPCUA_CONNECT,
        `client PKI under ${pkiDir} not usable: ${errorMessage(e)}`,
        origin,
        {
          cause: e,
        },
      );
    }
    const client = OPCUAClient.create(opcuaClientOptions(unit, pkiDir));
    let session: ClientSession | undefined;
    const work = (async () => {
      await client.connect(unit.endpoint);
      session = await client.createSession(userIdentity(unit));
      const namespaceArray = needsNamespaceArray ? await session.readNamespaceArray() : [];
      return { session, namespaceArray };
    })();
    let opened: { session: ClientSession; namespaceArray: string[] };
    try {
      opened = await withDeadline(
        work,
        unit.timeoutMs,
        () =>
          new PlantbridgeError(
            ErrorCode.OPCUA_TIMEOUT,
            `no answer from ${unit.endpoint} within ${unit.timeoutMs} ms`,
            origin,
          ),
      );
    } catch (e) {
      const error = untrustedServerError(unit, pkiDir, e) ?? connectError(e, origin, unit.password);
      log.warn({ code: error.code, reason: error.message }, "OPC UA connect failed");
      await abandonAttempt(client, session);
      throw error;
    }
    if (myEpoch !== epoch) {
      await abandonAttempt(client, opened.session);
      throw new PlantbridgeError(ErrorCode.NOT_CONNECTED, "connect cancelled by close()", origin);
    }
    const conn: Connection = {
      client,
      session: opened.session,
      nodeIds: resolveTagNodeIds(unit.tags, opened.namespaceArray),
      subscriptions: new Set(),
      lost: false,
      closing: false,
    };
    for (const [tag, r] of conn.nodeIds) {
      if (!r.ok) log.warn({ tag, reason: r.reason }, "tag node id does not resolve");
    }
    watch(conn);
    startWatchdog(conn);
    current = conn;
    log.info(
      { endpoint: unit.endpoint, securityMode: unit.securityMode, securityPolicy: unit.securityPolicy },
      "OPC UA link connected",
    );
  }

  /** A connect that failed or was overtaken: drop whatever it built, bounded. */
  async function abandonAttempt(client: OPCUAClient, session: ClientSession | undefined): Promise<void> {
    if (session !== undefined) {
      try {
        await withDeadline(session.close(true), unit.timeoutMs, () => new Error("CloseSession timed out"));
      } catch {
        // the session dies with the channel anyway
      }
    }
    try {
      await withDeadline(client.disconnect(), unit.timeoutMs, () => new Error("disconnect timed out"));
    } catch (e) {
      log.warn({ err: errorMessage(e) }, "disconnecting an abandoned OPC UA client failed");
    }
  }

  function live(): Connection {
    const conn = current;
    if (conn === undefined || conn.closing) {
      throw new PlantbridgeError(ErrorCode.NOT_CONNECTED, "not connected", origin);
    }
    if (conn.lost)
      throw new PlantbridgeError(ErrorCode.LINK_LOST, "link lost; close() and connect() again", origin);
    return conn;
  }

  function tagConfig(name: string): OpcuaTagConfig {
    const tag = tags.get(name);
    if (tag === undefined) {
      throw new PlantbridgeError(ErrorCode.UNKNOWN_TAG, `unit ${unit.name} has no tag "${name}"`, {
        unit: unit.name,
        tag: name,
      });
    }
    return tag;
  }

  function failService(conn: Connection, e: unknown, service: string, tag?: string): PlantbridgeError {
    const failure = serviceError(
      e,
      service,
      tag === undefined ? origin : { unit: unit.name, tag },
      unit.password,
    );
    if (failure.linkLost) reportLost(conn, failure.error);
    return failure.error;
  }

  const link: UnitLink = {
    unit: unit.name,

    async connect(): Promise<void> {
      if (current !== undefined && !current.lost && !current.closing) return;
      if (connecting !== undefined) return connecting;
      const previous = current;
      current = undefined;
      connecting = (async () => {
        if (previous !== undefined) {
          previous.closing = true;
          await dispose(previous);
        }
        await openConnection();
      })().finally(() => {
        connecting = undefined;
      });
      return connecting;
    },

    async read(names: readonly string[]): Promise<Map<string, Reading>> {
      for (const name of names) tagConfig(name);
      const conn = live();
      const readings = new Map<string, Reading>();
      const asked: string[] = [];
      for (const name of names) {
        const r = conn.nodeIds.get(name);
        if (r?.ok) asked.push(name);
      }
      let values: DataValue[] = [];
      if (asked.length > 0) {
        try {
          values = await withDeadline(
            conn.session.read(
              asked.map((name) => ({
                nodeId: (conn.nodeIds.get(name) as NodeIdResolution & { ok: true }).nodeId,
                attributeId: AttributeIds.Value,
              })),
              0,
            ),
            unit.timeoutMs,
            () =>
              new PlantbridgeError(
                ErrorCode.OPCUA_TIMEOUT,
                `Read: no answer within ${unit.timeoutMs} ms`,
                origin,
              ),
          );
        } catch (e) {
          throw failService(conn, e, "Read");
        }
        if (values.length !== asked.length) {
          throw new PlantbridgeError(
            ErrorCode.OPCUA_BAD_STATUS,
            `Read returned ${values.length} values for ${asked.length} nodes`,
            origin,
          );
        }
      }
      const t = now();
      const byName = new Map<string, Reading>();
      asked.forEach((name, i) => {
        byName.set(name, readingFromDataValue(values[i]!, t));
      });
      for (const name of names) {
        const r = conn.nodeIds.get(name);
        readings.set(name, byName.get(name) ?? badReading(r && !r.ok ? r.reason : "BadNodeIdUnknown", t));
      }
      return readings;
    },

    async write(name: string, value: TagValue): Promise<void> {
      const tag = tagConfig(name);
      const variant = variantForWrite(unit.name, tag, value);
      const conn = live();
      const resolved = conn.nodeIds.get(name);
      if (!resolved?.ok) {
        throw new PlantbridgeError(
          ErrorCode.OPCUA_BAD_STATUS,
          `write not sent: ${resolved?.reason ?? "BadNodeIdUnknown"}`,
          {
            unit: unit.name,
            tag: name,
          },
        );
      }
      let status: StatusCode;
      try {
        status = await withDeadline(
          conn.session.write({
            nodeId: resolved.nodeId,
            attributeId: AttributeIds.Value,
            value: { value: variant },
          }),
          unit.timeoutMs,
          () =>
            new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, `Write: no answer within ${unit.timeoutMs} ms`, {
              unit: unit.name,
              tag: name,
            }),
        );
      } catch (e) {
        throw failService(conn, e, "Write", name);
      }
      if (severityOf(status) !== "good") {
        throw new PlantbridgeError(
          ErrorCode.OPCUA_BAD_STATUS,
          `the server refused the write of ${value}: ${statusName(status)}`,
          {
            unit: unit.name,
            tag: name,
          },
        );
      }
    },

    async subscribe(
      names: readonly string[],
      onReading: (tag: string, reading: Reading) => void,
    ): Promise<Unsubscribe> {
      const configs = names.map(tagConfig);
      const conn = live();
      const subscription = await openTagSubscription(
        {
          unit,
          session: conn.session,
          log,
          resolve: (tag) => conn.nodeIds.get(tag),
          onLost: (error) => reportLost(conn, error),
          now,
        },
        configs,
        onReading,
      );
      if (conn.lost || conn.closing) {
        subscription.abandon();
      } else {
        conn.subscriptions.add(subscription);
      }
      return async () => {
        conn.subscriptions.delete(subscription);
        await subscription.close();
      };
    },

    async close(): Promise<void> {
      epoch += 1;
      const pending = connecting;
      if (pending !== undefined) await pending.catch(() => undefined);
      const conn = current;
      current = undefined;
      if (conn === undefined) return;
      conn.closing = true;
      await dispose(conn);
      log.info("OPC UA link closed");
    },

    onLost(listener: (error: PlantbridgeError) => void): () => void {
      lostListeners.add(listener);
      return () => {
        lostListeners.delete(listener);
      };
    },
  };
  return link;
}
