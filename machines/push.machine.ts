/**
 * The subscription of one connected unit's `mode: subscribe` tags (OPC UA monitored items), and
 * the image of the values it pushed. The plant spawns one per unit while the unit is connected
 * and stops it when the connection goes.
 *
 * - Pushed readings (batched per publish response) replace the image's values and are announced to
 *   the parent (`TAGS_PUSHED`) so loops that evaluate on change can run. Every publish response and
 *   keep-alive is a sign of life; the tag I/O serves a value only while the subscription is alive
 *   (pushed-image.ts).
 * - A subscription the server refuses (BadTooManySubscriptions after a crash while the old session
 *   still holds its subscription, BadTooManyMonitoredItems, …) or ends while the link lives is
 *   tried again with the unit's backoff, never left dead while the session lives.
 * - A failure of the link itself is reported (`LINK_FAILURE`) so the connection faults; the plant
 *   stops this actor when it does. So is a subscription silent for longer than its limit: its
 *   values are already bad (the tag I/O judges that at every read), and only a fresh session
 *   reliably restores publishing (the client's own publish requests may be stuck on the server).
 */
import { assign, cancel, fromCallback, raise, sendParent, setup } from "xstate";
import type { PushListener, PushSubscription, Reading, UnitLink } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { ReconnectConfig } from "../schemas/plant-types.ts";
import { backoffDelay } from "./backoff.ts";
import { describeDuration, type FailureEpisode, noteFailure, noteRecovery } from "./failure-episode.ts";
import { asPlantbridgeError, isLinkFailure } from "./link-failure.ts";
import type { PushedImage } from "./pushed-image.ts";

export interface PushInput {
  unit: string;
  link: Pick<UnitLink, "subscribe">;
  tags: readonly string[];
  /** Backoff between attempts to subscribe (the unit's reconnect settings). */
  retry: ReconnectConfig;
  random: () => number;
  clock: Clock;
  log: Log;
}

export interface PushContext extends PushInput, PushedImage {
  /** Consecutive refusals not yet forgiven by a subscription that stayed up. */
  attempts: number;
  refusals: number;
  /** Subscriptions created (the first one and every renewal). */
  subscriptions: number;
  /** Readings pushed since the actor started. */
  pushes: number;
  nextDelayMs: number;
  episode: FailureEpisode | null;
}

export type PushEvent =
  | { type: "SUBSCRIBED"; silenceLimitMs: number }
  | { type: "PUSHED"; readings: readonly (readonly [string, Reading])[] }
  | { type: "ALIVE" }
  | { type: "REFUSED"; error: PlantbridgeError; linkFailure: boolean }
  | { type: "ENDED"; reason: string }
  | { type: "CHECK_SILENCE" };

/** Events sent to the parent. */
export type PushNotice =
  | { type: "TAGS_PUSHED"; unit: string; tags: readonly string[] }
  | { type: "LINK_FAILURE"; unit: string; error: PlantbridgeError };

function silenceReason(context: PushContext): string {
  const silent = Math.round((context.clock.monotonic() - context.lastAliveAt) / 100) / 10;
  const limit = Math.round(context.silenceLimitMs / 100) / 10;
  return `subscription silent for ${silent} s (no publish response or keep-alive; limit ${limit} s)`;
}

/** Holds one subscription while invoked; closes it when stopped. Readings are batched per turn. */
const holdSubscription = fromCallback<PushEvent, PushInput>(({ input, sendBack }) => {
  const { unit, link, tags, log } = input;
  let stopped = false;
  let subscription: PushSubscription | undefined;
  let batch: [string, Reading][] = [];
  const flush = () => {
    const readings = batch;
    batch = [];
    if (!stopped && readings.length > 0) sendBack({ type: "PUSHED", readings });
  };
  const close = (s: PushSubscription) =>
    s
      .close()
      .catch((e: unknown) => log.debug({ unit, reason: errorMessage(e) }, `${unit} unsubscribe failed`));
  const listener: PushListener = {
    reading(tag, reading) {
      if (stopped) return;
      if (batch.length === 0) queueMicrotask(flush);
      batch.push([tag, reading]);
    },
    alive: () => {
      if (!stopped) sendBack({ type: "ALIVE" });
    },
    ended: (reason) => {
      if (!stopped) sendBack({ type: "ENDED", reason });
    },
  };
  if (link.subscribe === undefined) {
    const error = new PlantbridgeError(ErrorCode.UNSUPPORTED, `${unit} cannot push values`, { unit });
    queueMicrotask(() => sendBack({ type: "REFUSED", error, linkFailure: false }));
    return () => {
      stopped = true;
    };
  }
  link.subscribe(tags, listener).then(
    (s) => {
      if (stopped) void close(s);
      else {
        subscription = s;
        sendBack({ type: "SUBSCRIBED", silenceLimitMs: s.silenceLimitMs });
      }
    },
    (e: unknown) => {
      if (stopped) return;
      const error = asPlantbridgeError(e, ErrorCode.LINK_LOST, { unit });
      sendBack({ type: "REFUSED", error, linkFailure: isLinkFailure(e) });
    },
  );
  return () => {
    stopped = true;
    if (subscription !== undefined) void close(subscription);
  };
});

export const pushMachine = setup({
  types: {
    input: {} as PushInput,
    context: {} as PushContext,
    events: {} as PushEvent,
  },
  actors: { holdSubscription },
  actions: {
    startImage: assign({ active: false, values: () => new Map<string, Reading>() }),
    markSubscribed: assign(({ context }, params: { silenceLimitMs: number }) => ({
      active: true,
      reason: null,
      silenceLimitMs: params.silenceLimitMs,
      lastAliveAt: context.clock.monotonic(),
      subscriptions: context.subscriptions + 1,
      episode: null,
    })),
    logSubscribed: ({ context }) => {
      const log = noteRecovery(context.episode, context.clock.monotonic());
      const fields = { unit: context.unit, tags: context.tags.length };
      if (log.kind === "ended")
        context.log.info(
          { ...fields, refusals: log.episode.failures },
          `${context.unit} subscription running again after ${describeDuration(log.forMs)} (${log.episode.failures} refusals)`,
        );
      else context.log.debug(fields, `${context.unit} subscription running`);
    },
    storeReadings: assign(({ context }, params: { readings: readonly (readonly [string, Reading])[] }) => {
      const values = new Map(context.values);
      for (const [tag, reading] of params.readings) values.set(tag, reading);
      return { values, pushes: context.pushes + params.readings.length };
    }),
    announcePushed: sendParent(
      ({ context }, params: { tags: readonly string[] }): PushNotice => ({
        type: "TAGS_PUSHED",
        unit: context.unit,
        tags: params.tags,
      }),
    ),
    markAlive: assign({ lastAliveAt: ({ context }) => context.clock.monotonic() }),
    forgiveRefusals: assign({ attempts: 0 }),
    recordRefusal: assign(({ context }, params: { reason: string }) => {
      const attempts = context.attempts + 1;
      const noted = noteFailure(context.episode, context.clock.monotonic(), params.reason);
      return {
        active: false,
        reason: params.reason,
        attempts,
        refusals: context.refusals + 1,
        nextDelayMs: backoffDelay(attempts, context.retry, context.random),
        episode: noted.episode,
      };
    }),
    logRefusal: ({ context }) => {
      const episode = context.episode;
      if (episode === null) return;
      const fields = { unit: context.unit, reason: context.reason, retryInMs: context.nextDelayMs };
      const message = `${context.unit} subscription not running, retry in ${context.nextDelayMs} ms: ${context.reason}`;
      if (episode.failures === 1) context.log.warn(fields, message);
      else if (episode.loggedAt === context.clock.monotonic())
        context.log.warn(
          { ...fields, refusals: episode.failures },
          `${message} (for ${describeDuration(context.clock.monotonic() - episode.since)}, ${episode.failures} attempts)`,
        );
      else context.log.debug(fields, message);
    },
    reportLinkFailure: sendParent(
      ({ context }, params: { error: PlantbridgeError }): PushNotice => ({
        type: "LINK_FAILURE",
        unit: context.unit,
        error: params.error,
      }),
    ),
    markLinkFailed: assign((_, params: { reason: string }) => ({ active: false, reason: params.reason })),
    scheduleSilenceCheck: raise(
      { type: "CHECK_SILENCE" },
      {
        id: "silenceCheck",
        delay: ({ context }) => Math.max(50, Math.min(1000, context.silenceLimitMs / 4)),
      },
    ),
    cancelSilenceCheck: cancel("silenceCheck"),
    markSilent: assign(({ context }) => ({ active: false, reason: silenceReason(context) })),
    reportSilence: sendParent(
      ({ context }): PushNotice => ({
        type: "LINK_FAILURE",
        unit: context.unit,
        error: new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, silenceReason(context), { unit: context.unit }),
      }),
    ),
  },
  guards: {
    linkFailure: (_, params: { linkFailure: boolean }) => params.linkFailure,
    silentTooLong: ({ context }) => context.clock.monotonic() - context.lastAliveAt > context.silenceLimitMs,
  },
  delays: {
    backoff: ({ context }) => context.nextDelayMs,
    stableAfter: ({ context }) => context.retry.stableAfterMs,
  },
}).createMachine({
  id: "push",
  initial: "holding",
  context: ({ input }) => ({
    ...input,
    active: false,
    reason: null,
    values: new Map(),
    lastAliveAt: input.clock.monotonic(),
    silenceLimitMs: Number.POSITIVE_INFINITY,
    attempts: 0,
    refusals: 0,
    subscriptions: 0,
    pushes: 0,
    nextDelayMs: 0,
    episode: null,
  }),
  states: {
    holding: {
      entry: "startImage",
      invoke: { id: "holdSubscription", src: "holdSubscription", input: ({ context }) => context },
      initial: "starting",
      states: {
        starting: {
          on: {
            SUBSCRIBED: {
              target: "running",
              actions: [
                { type: "markSubscribed", params: ({ event }) => ({ silenceLimitMs: event.silenceLimitMs }) },
                "logSubscribed",
              ],
            },
          },
        },
        running: {
          // A subscription silent for longer than its limit is dead, and with it the session's
          // publishing: the connection starts afresh (a new session), as for a lost link.
          entry: "scheduleSilenceCheck",
          exit: "cancelSilenceCheck",
          after: { stableAfter: { actions: "forgiveRefusals" } },
          on: {
            CHECK_SILENCE: [
              {
                guard: "silentTooLong",
                target: "#push.linkFailed",
                actions: ["markSilent", "reportSilence"],
              },
              { actions: "scheduleSilenceCheck" },
            ],
          },
        },
      },
      on: {
        PUSHED: {
          actions: [
            { type: "storeReadings", params: ({ event }) => ({ readings: event.readings }) },
            { type: "announcePushed", params: ({ event }) => ({ tags: event.readings.map(([tag]) => tag) }) },
          ],
        },
        ALIVE: { actions: "markAlive" },
        REFUSED: [
          {
            guard: { type: "linkFailure", params: ({ event }) => ({ linkFailure: event.linkFailure }) },
            target: "linkFailed",
            actions: [
              { type: "markLinkFailed", params: ({ event }) => ({ reason: errorMessage(event.error) }) },
              { type: "reportLinkFailure", params: ({ event }) => ({ error: event.error }) },
            ],
          },
          {
            target: "waiting",
            actions: {
              type: "recordRefusal",
              params: ({ event }) => ({ reason: errorMessage(event.error) }),
            },
          },
        ],
        ENDED: {
          target: "waiting",
          actions: { type: "recordRefusal", params: ({ event }) => ({ reason: event.reason }) },
        },
      },
    },
    waiting: {
      entry: "logRefusal",
      after: { backoff: "holding" },
    },
    linkFailed: {},
  },
});
