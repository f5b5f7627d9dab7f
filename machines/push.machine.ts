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
import { assign, cancel, raise, sendParent, setup } from "xstate";
import type { Reading } from "../adapters/types.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../lib/errors.ts";
import {
  initialPushContext,
  type PushContext,
  type PushEvent,
  type PushInput,
  type PushNotice,
  readingsStored,
  refusalRecorded,
  silenceReason,
  subscribed,
} from "./push-context.ts";
import { logRefusal, logSubscribed } from "./push-logging.ts";
import { holdSubscription } from "./push-subscription.ts";

export type { PushContext, PushEvent, PushInput, PushNotice };

export const pushMachine = setup({
  types: {
    input: {} as PushInput,
    context: {} as PushContext,
    events: {} as PushEvent,
  },
  actors: { holdSubscription },
  actions: {
    startImage: assign({ active: false, values: () => new Map<string, Reading>() }),
    markSubscribed: assign(({ context }, params: { silenceLimitMs: number }) =>
      subscribed(context, params.silenceLimitMs),
    ),
    logSubscribed: ({ context }) => logSubscribed(context),
    storeReadings: assign(({ context }, params: { readings: readonly (readonly [string, Reading])[] }) =>
      readingsStored(context, params.readings),
    ),
    announcePushed: sendParent(
      ({ context }, params: { tags: readonly string[] }): PushNotice => ({
        type: "TAGS_PUSHED",
        unit: context.unit,
        tags: params.tags,
      }),
    ),
    markAlive: assign({ lastAliveAt: ({ context }) => context.clock.monotonic() }),
    forgiveRefusals: assign({ attempts: 0 }),
    recordRefusal: assign(({ context }, params: { reason: string }) =>
      refusalRecorded(context, params.reason),
    ),
    logRefusal: ({ context }) => logRefusal(context),
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
  context: ({ input }) => initialPushContext(input),
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
