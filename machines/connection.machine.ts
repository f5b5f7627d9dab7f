/**
 * The life of one link (a unit's PLC): connect, watch, fault, back off, reconnect, close.
 * The link never retries by itself; this machine decides. One instance per unit.
 *
 * Parent notification: `sendParent` of `UNIT_CONNECTED` / `UNIT_DISCONNECTED` (when a parent
 * exists, e.g. the plant), and `emit` of `connected` / `disconnected` for anyone holding the
 * actor (`actor.on("connected", …)`), so the machine also runs on its own.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup } from "xstate";
import type { PlantbridgeError } from "../lib/errors.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { ReconnectConfig } from "../schemas/plant-types.ts";
import { backoffDelay } from "./backoff.ts";

/** What the connection machine needs of a link: a UnitLink fits. */
export interface ConnectionLink {
  connect(): Promise<void>;
  close(): Promise<void>;
  onLost(listener: (error: PlantbridgeError) => void): () => void;
}

export interface ConnectionInput {
  /** Unit name (or sink name), used in logs and in the events sent to the parent. */
  name: string;
  link: ConnectionLink;
  reconnect: ReconnectConfig;
  random: () => number;
  now: () => number;
  log: Log;
}

export interface ConnectionContext extends ConnectionInput {
  /** Consecutive failures since the last successful connect (drives the backoff). */
  attempts: number;
  /** Times the link went to `faulted` (failed connects and lost links). */
  faults: number;
  /** Successful connects after the first one. */
  reconnects: number;
  connects: number;
  lastError: string | null;
  /** Time the current state was entered (injected clock). */
  since: number;
  /** Backoff chosen on entering `faulted`. */
  nextDelayMs: number;
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

export type ConnectionEmitted = { type: "connected"; name: string } | { type: "disconnected"; name: string };

function failureMessage(event: ConnectionEvent | { type: string; error?: unknown }): string {
  return "error" in event && event.error !== undefined ? errorMessage(event.error) : event.type;
}

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    emitted: {} as ConnectionEmitted,
  },
  actors: {
    connectLink: fromPromise<void, ConnectionLink>(({ input }) => input.connect()),
    closeLink: fromPromise<void, ConnectionLink>(({ input }) => input.close()),
    watchLink: fromCallback<ConnectionEvent, ConnectionLink>(({ input, sendBack }) =>
      input.onLost((error) => sendBack({ type: "LINK_LOST", error })),
    ),
  },
  actions: {
    markStateEntry: assign({ since: ({ context }) => context.now() }),
    recordConnected: assign({
      attempts: 0,
      connects: ({ context }) => context.connects + 1,
      reconnects: ({ context }) => (context.connects > 0 ? context.reconnects + 1 : context.reconnects),
    }),
    recordFault: assign(({ context, event }) => {
      const attempts = context.attempts + 1;
      return {
        attempts,
        faults: context.faults + 1,
        lastError: failureMessage(event),
        nextDelayMs: backoffDelay(attempts, context.reconnect, context.random),
      };
    }),
    logConnected: ({ context }) => {
      const again = context.reconnects > 0 ? ` (reconnect ${context.reconnects})` : "";
      context.log.info({ unit: context.name }, `${context.name} connected${again}`);
    },
    logConnecting: ({ context }) => {
      context.log.debug({ unit: context.name, attempt: context.attempts + 1 }, `${context.name} connecting`);
    },
    logFault: ({ context }) => {
      context.log.warn(
        {
          unit: context.name,
          reason: context.lastError,
          retryInMs: context.nextDelayMs,
          faults: context.faults,
        },
        `${context.name} faulted: ${context.lastError ?? "unknown"}; next attempt in ${context.nextDelayMs} ms`,
      );
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
    announceConnected: enqueueActions(({ context, enqueue, self }) => {
      enqueue.emit({ type: "connected", name: context.name });
      if (self._parent !== undefined) enqueue.sendParent({ type: "UNIT_CONNECTED", name: context.name });
    }),
    announceDisconnected: enqueueActions(({ context, enqueue, self }) => {
      enqueue.emit({ type: "disconnected", name: context.name });
      if (self._parent !== undefined) enqueue.sendParent({ type: "UNIT_DISCONNECTED", name: context.name });
    }),
  },
  delays: {
    backoff: ({ context }) => context.nextDelayMs,
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
    since: input.now(),
    nextDelayMs: 0,
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
