/**
 * One OPC UA connection: a node-opcua client with its secure channel and session, opened within
 * the unit's timeout and disposed of within it. A new one for every `connect()` of the link; the
 * link (opcua-link.ts) decides what to do with it, link-watch.ts watches it.
 */
import { type ClientSession, OPCUAClient } from "node-opcua-client";
import type { Clock } from "../../lib/clock.ts";
import { withDeadline } from "../../lib/deadline.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import { opcuaClientOptions, userIdentity } from "./client-options.ts";
import { prepareClientPki } from "./client-pki.ts";
import { type NodeIdResolution, resolveTagNodeIds, usesNamespaceUri } from "./node-ids.ts";
import { untrustedServerError } from "./server-trust.ts";
import { connectError } from "./status.ts";
import type { TagSubscription } from "./subscription.ts";

export interface OpcuaConnection {
  client: OPCUAClient;
  session: ClientSession;
  nodeIds: Map<string, NodeIdResolution>;
  subscriptions: Set<TagSubscription>;
  /** `lost` has been reported for this connection. */
  lost: boolean;
  /** `close()` has begun: events are expected and not reported. */
  closing: boolean;
  /** Monotonic ms of the last answer of any kind from the server (link-watch.ts keeps it). */
  lastAnswerAt: number;
  /** Stops the watchdog (link-watch.ts). */
  stopWatching?: () => void;
  disposal?: Promise<void>;
}

export interface ConnectionDeps {
  log: Log;
  pkiDir: string;
  clock: Clock;
}

/** Local, one-off: the client's key and certificate (not part of the unit's connect timeout). */
const PKI_DEADLINE_MS = 60_000;

/** Opens client, channel and session (and reads the namespace array when a tag needs it). */
export async function openConnection(unit: OpcuaUnitConfig, deps: ConnectionDeps): Promise<OpcuaConnection> {
  const { log, pkiDir } = deps;
  const origin = { unit: unit.name };
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
      { cause: e },
    );
  }
  const client = OPCUAClient.create(opcuaClientOptions(unit, pkiDir));
  const needsNamespaceArray = unit.tags.some((t) => usesNamespaceUri(t.nodeId));
  let session: ClientSession | undefined;
  const work = (async () => {
    await client.connect(unit.endpoint);
    session = await client.createSession(userIdentity(unit));
    const namespaceArray = needsNamespaceArray ? await session.readNamespaceArray() : [];
    return { session, namespaceArray };
  })();
  try {
    const opened = await withDeadline(
      work,
      unit.timeoutMs,
      () =>
        new PlantbridgeError(
          ErrorCode.OPCUA_TIMEOUT,
          `no answer from ${unit.endpoint} within ${unit.timeoutMs} ms`,
          origin,
        ),
    );
    return {
      client,
      session: opened.session,
      nodeIds: resolveTagNodeIds(unit.tags, opened.namespaceArray),
      subscriptions: new Set(),
      lost: false,
      closing: false,
      lastAnswerAt: deps.clock.monotonic(),
    };
  } catch (e) {
    const error = untrustedServerError(unit, pkiDir, e) ?? connectError(e, origin, unit.password);
    log.warn({ code: error.code, reason: error.message }, "OPC UA connect failed");
    await abandonAttempt(unit, log, client, session);
    throw error;
  }
}

/** A connect that failed or was overtaken: drop whatever it built, bounded. */
export async function abandonAttempt(
  unit: OpcuaUnitConfig,
  log: Log,
  client: OPCUAClient,
  session: ClientSession | undefined,
): Promise<void> {
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

/**
 * Closes subscriptions, session and client, each step bounded by the unit's timeout; idempotent.
 * A lost connection skips what needs the server (its subscriptions and session are gone).
 */
export function disposeConnection(conn: OpcuaConnection, unit: OpcuaUnitConfig, log: Log): Promise<void> {
  conn.stopWatching?.();
  conn.stopWatching = undefined;
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
    } else {
      for (const s of subscriptions) s.abandon();
    }
    try {
      await withDeadline(conn.client.disconnect(), unit.timeoutMs, () => new Error("disconnect timed out"));
    } catch (e) {
      log.warn({ err: errorMessage(e) }, "disconnecting the OPC UA client failed");
    }
  })();
  return conn.disposal;
}
