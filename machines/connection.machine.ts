/**
 * The life of one link (a unit's PLC): connect, watch, fault, back off, reconnect, close.
 * The link never retries by itself; this machine decides. One instance per unit.
 *
 * Backoff grows with every consecutive failure and is forgiven only once a connection has
 * stayed up for `reconnect.stableAfterMs`: a link that connects and drops again at once (a
 * flapping gateway, a PLC that accepts and resets) keeps backing off instead of reconnecting
 * every half second forever. All times are on the monotonic clock.
 *
 * Parent notification: `UNIT_CONNECTED` / `UNIT_DISCONNECTED` through `sendParent`; the machine
 * always runs under a parent (the plant, or a test's recording parent).
 */
import { assign, fromCallback, fromPromise, sendParent, setup } from "xstate";
import type { Clock } from "../lib/clock.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { ReconnectConfig } from "../schemas/plant-types.ts";
import { backoffDelay } from "./backoff.ts";
import { describeDuration, type FailureEpisode, noteFailure, noteRecovery } from "./failure-episode.ts";

/** What the connection machine needs of a link: a UnitLink fits. */
export interface ConnectionLink {
  connect(): Promise<void>;
  close(): Promise<void>;
  onLost(listener: (error: PlantbridgeError) => void): () => void;
}

export interface ConnectionInput {
  /** Unit name, used in logs and in the events sent to the parent. */
  name: string;
  link: ConnectionLink;
  reconnect: ReconnectConfig;
  random: () => number;
  clock: Clock;
  log: Log;
}

export interface ConnectionContext extends ConnectionInput {
  /** Consecutive failures not yet forgiven by a stable connection (drives the backoff). */
  attempts: number;
  /** Times the link went to `faulted` (failed connects and lost links). */
  faults: number;
  /** Successful connects after the first one. */
  reconnects: number;
  /** Successful connects; also the generation of the current connection (tag I/O uses it). */
  connects: number;
  lastError: string | null;
  /** Monotonic time the current state was entered. */
  since: number;
  /** Backoff chosen on entering `faulted`. */
  nextDelayMs: number;
  /** The current outage (from the first fault until a connection stayed up), for bounded logging. */
  outage: FailureEpisode | null;
}

export type ConnectionEvent =
  | { type: "CONNECT" }
  | { type: "LINK_LOST"; error: PlantbridgeError }
  | { type: "REPORT_FAILURE"; error: unknown }
  | { type: "SHUTDOWN" };

/** Events sent to the parent. */
export type ConnectionNotice =
  | { type: "UNIT_CONNECTED"; name: string }
  | { type: "UNIT_DISCONNECTED"; name: string };

function failureMessage(event: ConnectionEvent | { type: string; error?: unknown }): string {
  return "error" in event && event.error !== undefined ? errorMessage(event.error) : event.type;
}

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  actors: {
    connectLink: fromPromise<void, ConnectionLink>(({ input }) => input.connect()),
    closeLink: fromPromise<void, ConnectionLink>(({ input }) => input.close()),
    watchLink: fromCallback<ConnectionEvent, ConnectionLink>(({ input, sendBack }) =>
      input.onLost((error) => sendBack({ type: "LINK_LOST", error })),
    ),
  },
  actions: {
    markStateEntry: assign({ since: ({ context }) => context.clock.monotonic() }),
    recordConnected: assign({
      connects: ({ context }) => context.connects + 1,
      reconnects: ({ context }) => (context.connects > 0 ? context.reconnects + 1 : context.reconnects),
    }),
    forgiveFailures: assign({ attempts: 0, outage: null }),
    recordFault: assign(({ context, event }) => {
      const attempts = context.attempts + 1;
      const lastError = failureMessage(event);
      return {
        attempts,
        faults: context.faults + 1,
        lastError,
        nextDelayMs: backoffDelay(attempts, context.reconnect, context.random),
        outage: noteFailure(context.outage, context.clock.monotonic(), lastError).episode,
      };
    }),
    logConnected: ({ context }) => {
      const again = context.reconnects > 0 ? ` (reconnect ${context.reconnects})` : "";
      // While an outage lasts (a flapping link) each reconnect is a debug line; its end is logged once.
      const level = context.outage === null || context.outage.failures === 1 ? "info" : "debug";
      context.log[level]({ unit: context.name }, `${context.name} connected${again}`);
    },
    logStable: ({ context }) => {
      const ended = noteRecovery(context.outage, context.clock.monotonic());
      if (ended.kind === "ended" && ended.episode.failures > 1)
        context.log.info(
          { unit: context.name, failures: ended.episode.failures, outageMs: Math.round(ended.forMs) },
          `${context.name} stable again after ${describeDuration(ended.forMs)} with ${ended.episode.failures} failures: backoff reset`,
        );
    },
    logConnecting: ({ context }) => {
      context.log.debug({ unit: context.name, attempt: context.attempts + 1 }, `${context.name} connecting`);
    },
    logFault: ({ context }) => {
      const outage = context.outage;
      const now = context.clock.monotonic();
      const fields = {
        unit: context.name,
        reason: context.lastError,
        retryInMs: context.nextDelayMs,
        faults: context.faults,
        failuresInARow: context.attempts,
      };
      const message = `${context.name} faulted: ${context.lastError ?? "unknown"}; next attempt in ${context.nextDelayMs} ms`;
      if (outage === null || outage.failures === 1) context.log.warn(fields, message);
      else if (outage.loggedAt === now)
        context.log.warn(
          { ...fields, outageMs: Math.round(now - outage.since) },
          `${context.name} down for ${describeDuration(now - outage.since)} (${outage.failures} failures): ${context.lastError ?? "unknown"}; next attempt in ${context.nextDelayMs} ms`,
        );
      else context.log.debug(fields, message);
    },
    logCloseFailure: ({ context, event }) => {
      context.log.debug(
        { unit: context.name, reason: failureMessage(event) },
        `${context.name} close failed`,
      );
    },
    logClosed: ({ context }) => {
      context.log.info({ unit: context.name }, `${context.name} closed`);
    },
    announceConnected: sendParent(
      ({ context }): ConnectionNotice => ({ type: "UNIT_CONNECTED", name: context.name }),
    ),
    announceDisconnected: sendParent(
      ({ context }): ConnectionNotice => ({ type: "UNIT_DISCONNECTED", name: context.name }),
    ),
  },
  delays: {
    backoff: ({ context }) => context.nextDelayMs,
    stableAfter: ({ context }) => context.reconnect.stableAfterMs,
  },
}).createMachine({
  id: "connection",
  initial: "disconnected",
  context: ({ input }) => ({
    ...input,
    attempts: 0,
    faults: 0,
    reconnects: 0,
    connects: 0,
    lastError: null,
    since: input.clock.monotonic(),
    nextDelayMs: 0,
    outage: null,
  }),
  on: {
    SHUTDOWN: ".closing",
  },
  states: {
    disconnected: {
      on: { CONNECT: "connecting" },
    },
    connecting: {
      entry: ["markStateEntry", "logConnecting"],
      invoke: {
        id: "connectLink",
        src: "connectLink",
        input: ({ context }) => context.link,
        onDone: { target: "connected", actions: "recordConnected" },
        onError: { target: "faulted", actions: "recordFault" },
      },
    },
    connected: {
      entry: ["markStateEntry", "logConnected", "announceConnected"],
      exit: "announceDisconnected",
      invoke: {
        id: "watchLink",
        src: "watchLink",
        input: ({ context }) => context.link,
        onError: { target: "faulted", actions: "recordFault" },
      },
      after: { stableAfter: { actions: ["logStable", "forgiveFailures"] } },
      on: {
        LINK_LOST: { target: "faulted", actions: "recordFault" },
        REPORT_FAILURE: { target: "faulted", actions: "recordFault" },
      },
    },
    faulted: {
      entry: ["markStateEntry", "logFault"],
      initial: "releasing",
      states: {
        releasing: {
          invoke: {
            id: "closeLink",
            src: "closeLink",
            input: ({ context }) => context.link,
            onDone: "waiting",
            onError: { target: "waiting", actions: "logCloseFailure" },
          },
        },
        waiting: {
          after: { backoff: "#connection.connecting" },
        },
      },
    },
    closing: {
      entry: "markStateEntry",
      invoke: {
        id: "closeLink",
        src: "closeLink",
        input: ({ context }) => context.link,
        onDone: "closed",
        onError: { target: "closed", actions: "logCloseFailure" },
      },
      on: { SHUTDOWN: {} },
    },
    closed: {
      type: "final",
      entry: ["markStateEntry", "logClosed"],
    },
  },
});

/** The state name without sub-states: `faulted` for `{ faulted: "waiting" }`. */
export function connectionState(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null) return Object.keys(value)[0] ?? "unknown";
  return "unknown";
}
