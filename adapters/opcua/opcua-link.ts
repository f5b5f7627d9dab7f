/**
 * The link to one OPC UA unit (METH on the reference plant). It connects once per `connect()`
 * (node-opcua never retries or reconnects on its own: maxRetry 0), reads with one Read call,
 * writes checked values, subscribes, and reports a dead link once through `onLost`.
 */
import { type Clock, systemClock } from "../../lib/clock.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { OpcuaTagConfig, OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import type { PushListener, PushSubscription, Reading, ReadingStamp, TagValue, UnitLink } from "../types.ts";
import { checkSecurity } from "./client-options.ts";
import {
  abandonAttempt,
  disposeConnection,
  type OpcuaConnection,
  openConnection as openOpcuaConnection,
} from "./connection.ts";
import { watchConnection } from "./link-watch.ts";
import { readTags, type ServiceDeps, writeTag } from "./services.ts";
import { openTagSubscription } from "./subscription.ts";

export interface OpcuaLinkDeps {
  log: Log;
  /** PKI root; the client's certificate and trust lists go to `<pkiDir>/client`. */
  pkiDir: string;
  /** Stamps readings (wall clock) and measures every age and silence (monotonic); default the system's. */
  clock?: Clock;
}

type Connection = OpcuaConnection;

export function createOpcuaLink(unit: OpcuaUnitConfig, deps: OpcuaLinkDeps): UnitLink {
  checkSecurity(unit);
  const { log, pkiDir } = deps;
  const clock = deps.clock ?? systemClock;
  const stamp = (): ReadingStamp => ({ time: clock.wall(), receivedAt: clock.monotonic() });
  const tags = new Map<string, OpcuaTagConfig>(unit.tags.map((t) => [t.name, t]));
  const lostListeners = new Set<(error: PlantbridgeError) => void>();
  const origin = { unit: unit.name };

  let current: Connection | undefined;
  let connecting: Promise<void> | undefined;
  /** Bumped by close(): a connect still under way when it changes throws its result away. */
  let epoch = 0;

  function reportLost(conn: Connection, error: PlantbridgeError): void {
    if (conn.lost || conn.closing) return;
    conn.lost = true;
    log.warn({ code: error.code, reason: error.message }, "OPC UA link lost");
    // Tear the client down at once so no node-opcua timer outlives the link; close() awaits the same.
    void disposeConnection(conn, unit, log);
    for (const listener of [...lostListeners]) {
      try {
        listener(error);
      } catch (e) {
        log.error({ err: errorMessage(e) }, "onLost listener threw");
      }
    }
  }

  async function openConnection(): Promise<void> {
    const myEpoch = epoch;
    const conn = await openOpcuaConnection(unit, { log, pkiDir, clock });
    if (myEpoch !== epoch) {
      await abandonAttempt(unit, log, conn.client, conn.session);
      throw new PlantbridgeError(ErrorCode.NOT_CONNECTED, "connect cancelled by close()", origin);
    }
    for (const [tag, r] of conn.nodeIds) {
      if (!r.ok) log.warn({ tag, reason: r.reason }, "tag node id does not resolve");
    }
    watchConnection(conn, { unit, log, clock, reportLost: (error) => reportLost(conn, error) });
    current = conn;
    log.info(
      { endpoint: unit.endpoint, securityMode: unit.securityMode, securityPolicy: unit.securityPolicy },
      "OPC UA link connected",
    );
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

  const services: ServiceDeps = {
    unit,
    stamp,
    failed: (conn, failure) => {
      if (failure.linkLost) reportLost(conn, failure.error);
    },
  };

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
          await disposeConnection(previous, unit, log);
        }
        await openConnection();
      })().finally(() => {
        connecting = undefined;
      });
      return connecting;
    },

    async read(names: readonly string[]): Promise<Map<string, Reading>> {
      for (const name of names) tagConfig(name);
      return readTags(services, live(), names);
    },

    async write(name: string, value: TagValue): Promise<void> {
      const tag = tagConfig(name);
      return writeTag(services, live(), tag, value);
    },

    async subscribe(names: readonly string[], listener: PushListener): Promise<PushSubscription> {
      const configs = names.map(tagConfig);
      const conn = live();
      const subscription = await openTagSubscription(
        {
          unit,
          session: conn.session,
          log,
          resolve: (tag) => conn.nodeIds.get(tag),
          onLost: (error) => reportLost(conn, error),
          stamp,
        },
        configs,
        listener,
      );
      if (conn.lost || conn.closing) {
        subscription.abandon();
      } else {
        conn.subscriptions.add(subscription);
      }
      return {
        silenceLimitMs: subscription.silenceLimitMs,
        close: async () => {
          conn.subscriptions.delete(subscription);
          await subscription.close();
        },
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
      await disposeConnection(conn, unit, log);
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
