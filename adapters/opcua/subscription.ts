/**
 * One OPC UA subscription for a set of tags: one monitored item per tag (created in one
 * CreateMonitoredItems call per distinct sampling interval and deadband), every notification
 * pushed as a Reading with its quality, every publish response (data or keep-alive) reported as
 * a sign of life. A subscription the server terminates or reports Bad while the session lives is
 * `ended`: the caller subscribes again. A refusal (CreateSubscription or CreateMonitoredItems,
 * e.g. BadTooManySubscriptions) rejects with a tag-level code; a link failure rejects with a
 * link-level one and is reported lost.
 */
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  type ClientSession,
  ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  type DataValue,
  DeadbandType,
  type StatusCode,
  TimestampsToReturn,
} from "node-opcua-client";
import { withDeadline } from "../../lib/deadline.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { OpcuaTagConfig, OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import type { PushListener, Reading, ReadingStamp } from "../types.ts";
import type { NodeIdResolution } from "./node-ids.ts";
import { serviceError, severityOf, statusName } from "./status.ts";
import { badReading, readingFromDataValue } from "./values.ts";

export interface SubscriptionContext {
  unit: OpcuaUnitConfig;
  session: ClientSession;
  log: Log;
  resolve(tag: string): NodeIdResolution | undefined;
  /** Reports the link lost (at most once per connection; the link takes care of that). */
  onLost(error: PlantbridgeError): void;
  /** Stamps pushed readings: wall-clock time and monotonic receive time. */
  stamp(): ReadingStamp;
}

export interface TagSubscription {
  /** Silence longer than this (revised keep-alive count × publishing interval + the unit's timeout) = dead. */
  readonly silenceLimitMs: number;
  /** Deletes the subscription on the server; bounded by the unit's timeout; idempotent. */
  close(): Promise<void>;
  /** The session is gone: nothing to delete any more, stop reporting. */
  abandon(): void;
}

/** Keep-alive and lifetime counts so the server sends a keep-alive about every `keepAliveMs`. */
export function subscriptionCounts(unit: OpcuaUnitConfig): {
  publishingInterval: number;
  maxKeepAliveCount: number;
  lifetimeCount: number;
} {
  // 0 would be revised to 100 ms by the client; 1 is the fastest it passes on.
  const publishingInterval = Math.max(1, unit.publishingIntervalMs);
  const maxKeepAliveCount = Math.min(1_000, Math.max(1, Math.ceil(unit.keepAliveMs / publishingInterval)));
  // OPC UA requires lifetime >= 3 * keep-alive; the server drops a subscription nobody asks about after it.
  const lifetimeCount = Math.max(
    3 * maxKeepAliveCount,
    Math.ceil((3 * unit.keepAliveMs) / publishingInterval),
  );
  return { publishingInterval, maxKeepAliveCount, lifetimeCount };
}

function filterFor(tag: OpcuaTagConfig): DataChangeFilter | null {
  if (tag.deadband === undefined || tag.deadband.value <= 0) return null;
  return new DataChangeFilter({
    trigger: DataChangeTrigger.StatusValue,
    deadbandType: tag.deadband.type === "percent" ? DeadbandType.Percent : DeadbandType.Absolute,
    deadbandValue: tag.deadband.value,
  });
}

/**
 * The server may revise a sampling interval up to what it can do: say which tags it samples more
 * slowly than asked (info: 0 asked for = its fastest rate, e.g. 10 ms; a value it serves on change
 * keeps 0), one line per group.
 */
function noteRevisedSampling(
  log: Log,
  group: readonly OpcuaTagConfig[],
  requested: number,
  items: ClientMonitoredItemGroup,
): void {
  const slower = new Map<number, string[]>();
  items.monitoredItems.forEach((item, index) => {
    const revised = item.monitoringParameters.samplingInterval;
    const tag = group[index];
    if (tag !== undefined && revised > requested)
      slower.set(revised, [...(slower.get(revised) ?? []), tag.name]);
  });
  for (const [revised, tags] of slower) {
    log.info(
      { tags, requested, revised },
      `the server samples ${tags.join(", ")} every ${revised} ms (asked for ${requested} ms)`,
    );
  }
}

function groupKey(tag: OpcuaTagConfig): string {
  return `${tag.samplingIntervalMs}|${tag.deadband?.type ?? "none"}|${tag.deadband?.value ?? 0}`;
}

/**
 * CreateSubscription, settled by the subscription's own "started" / "error" events. Not
 * `session.createSubscription2`: its "started" handler asserts that the subscription still has
 * its session, and throws — outside any call of ours, so as an uncaught exception that ends the
 * process — when the session closed between the server's answer and that event (a dropped
 * connection at the wrong moment; the soak hit it on a busy machine).
 */
function createSubscription(
  session: ClientSession,
  parameters: Parameters<typeof ClientSubscription.create>[1],
): Promise<ClientSubscription> {
  return new Promise((resolve, reject) => {
    const subscription = ClientSubscription.create(session, parameters);
    subscription.once("started", () => resolve(subscription));
    // Stays attached: an "error" event without a listener would throw.
    subscription.on("error", (err: Error) => reject(err));
  });
}

export async function openTagSubscription(
  ctx: SubscriptionContext,
  tags: readonly OpcuaTagConfig[],
  listener: PushListener,
): Promise<TagSubscription> {
  const { unit, session, log } = ctx;
  const origin = { unit: unit.name };
  let closing = false;
  let abandoned = false;

  const deliver = (tag: string, reading: Reading): void => {
    if (closing || abandoned) return;
    try {
      listener.reading(tag, reading);
    } catch (e) {
      log.error({ tag, err: errorMessage(e) }, "subscription reading handler threw");
    }
  };

  const resolved: { tag: OpcuaTagConfig; nodeId: NodeIdResolution & { ok: true } }[] = [];
  const unresolved: { tag: string; reason: string }[] = [];
  for (const tag of tags) {
    const r = ctx.resolve(tag.name);
    if (r?.ok) resolved.push({ tag, nodeId: r });
    else unresolved.push({ tag: tag.name, reason: r?.reason ?? "BadNodeIdUnknown" });
  }

  const counts = subscriptionCounts(unit);
  let subscription: ClientSubscription;
  try {
    subscription = await withDeadline(
      createSubscription(session, {
        requestedPublishingInterval: counts.publishingInterval,
        requestedMaxKeepAliveCount: counts.maxKeepAliveCount,
        requestedLifetimeCount: counts.lifetimeCount,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      }),
      unit.timeoutMs,
      () =>
        new PlantbridgeError(
          ErrorCode.OPCUA_TIMEOUT,
          `CreateSubscription: no answer within ${unit.timeoutMs} ms`,
          origin,
        ),
    );
  } catch (e) {
    const failure = serviceError(e, "CreateSubscription", origin, unit.password);
    if (failure.linkLost) ctx.onLost(failure.error);
    throw failure.error;
  }

  const ended = (message: string): void => {
    if (closing || abandoned) return;
    abandoned = true;
    log.warn({ subscriptionId: subscription.subscriptionId, reason: message }, "OPC UA subscription ended");
    try {
      listener.ended(message);
    } catch (e) {
      log.error({ err: errorMessage(e) }, "subscription end handler threw");
    }
  };
  const alive = (): void => {
    if (closing || abandoned) return;
    try {
      listener.alive();
    } catch (e) {
      log.error({ err: errorMessage(e) }, "subscription life handler threw");
    }
  };
  subscription.on("raw_notification", alive);
  subscription.on("terminated", () => ended(`subscription ${subscription.subscriptionId} terminated`));
  subscription.on("status_changed", (status: StatusCode) => {
    if (severityOf(status) === "bad")
      ended(`subscription ${subscription.subscriptionId} status ${statusName(status)}`);
  });
  subscription.on("internal_error", (err: Error) => ended(`subscription internal error: ${err.message}`));
  subscription.on("error", (err: Error) => log.warn({ err: err.message }, "subscription error"));

  const terminate = async (): Promise<void> => {
    try {
      await withDeadline(
        subscription.terminate(),
        unit.timeoutMs,
        () => new Error("DeleteSubscriptions timed out"),
      );
    } catch (e) {
      log.debug({ err: errorMessage(e) }, "deleting the subscription failed");
    }
  };

  const groups = new Map<string, OpcuaTagConfig[]>();
  const nodeIds = new Map<string, (typeof resolved)[number]["nodeId"]["nodeId"]>();
  for (const { tag, nodeId } of resolved) {
    nodeIds.set(tag.name, nodeId.nodeId);
    const key = groupKey(tag);
    const list = groups.get(key) ?? [];
    list.push(tag);
    groups.set(key, list);
  }

  const monitored: ClientMonitoredItemGroup[] = [];
  try {
    for (const group of groups.values()) {
      const first = group[0]!;
      const samplingInterval = first.samplingIntervalMs;
      const queueSize = Math.min(
        100,
        Math.max(1, Math.ceil(counts.publishingInterval / Math.max(1, samplingInterval))),
      );
      // Created synchronously with its "changed" listener attached before the server can answer:
      // the first values may arrive in the same network read as the CreateMonitoredItems reply.
      const items = ClientMonitoredItemGroup.create(
        subscription,
        group.map((t) => ({ nodeId: nodeIds.get(t.name)!, attributeId: AttributeIds.Value })),
        { samplingInterval, queueSize, discardOldest: true, filter: filterFor(first) },
        TimestampsToReturn.Both,
      );
      monitored.push(items);
      items.on("changed", (_item: unknown, dv: DataValue, index: number) => {
        const tag = group[index];
        if (tag !== undefined) deliver(tag.name, readingFromDataValue(dv, ctx.stamp()));
      });
      await withDeadline(
        new Promise<void>((resolve, reject) => {
          items.once("initialized", () => resolve());
          items.once("err", (message: string) => reject(new Error(message)));
        }),
        unit.timeoutMs,
        () =>
          new PlantbridgeError(
            ErrorCode.OPCUA_TIMEOUT,
            `CreateMonitoredItems: no answer within ${unit.timeoutMs} ms`,
            origin,
          ),
      );
      items.monitoredItems.forEach((item, index) => {
        const tag = group[index];
        if (tag !== undefined && severityOf(item.statusCode) !== "good") {
          deliver(tag.name, badReading(statusName(item.statusCode), ctx.stamp()));
        }
      });
      noteRevisedSampling(log, group, samplingInterval, items);
    }
  } catch (e) {
    closing = true;
    const failure = serviceError(e, "CreateMonitoredItems", origin, unit.password);
    if (failure.linkLost) ctx.onLost(failure.error);
    else await terminate();
    throw failure.error;
  }

  for (const u of unresolved) deliver(u.tag, badReading(u.reason, ctx.stamp()));
  log.debug(
    {
      subscriptionId: subscription.subscriptionId,
      publishingInterval: subscription.publishingInterval,
      tags: tags.length,
    },
    "subscription created",
  );
  if (subscription.publishingInterval > counts.publishingInterval) {
    log.warn(
      { requested: counts.publishingInterval, revised: subscription.publishingInterval },
      `the server revised the publishing interval from ${counts.publishingInterval} to ${subscription.publishingInterval} ms: pushed changes arrive up to ${subscription.publishingInterval} ms after they happen`,
    );
  }

  alive();
  const silenceLimitMs =
    Math.max(1, subscription.publishingInterval) * Math.max(1, subscription.maxKeepAliveCount) +
    unit.timeoutMs;
  let closed: Promise<void> | undefined;
  return {
    silenceLimitMs,
    close(): Promise<void> {
      if (closed) return closed;
      const wasAbandoned = abandoned;
      closing = true;
      closed = wasAbandoned ? Promise.resolve() : terminate();
      return closed;
    },
    abandon(): void {
      abandoned = true;
    },
  };
}
