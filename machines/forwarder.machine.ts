/**
 * Forwarder: drains the spool into one historian sink, in spool order, with the sink's own
 * cursor, keeping up to the sink's `pipelineDepth` batches on their way at once, each acked in
 * spool order after its own commit (deliver-spool.ts). It owns the sink's reachability (no
 * separate connection machine): `opening` retries `sink.open` with backoff; an unavailable sink parks the forwarder in `historianDown` and the
 * same samples are retried from the cursor after the backoff (an outage only grows the spool);
 * rejected rows are isolated and dead-lettered (deliver-batch.ts). `FLUSH` (shutdown) drains
 * until the spool is empty or the deadline passes, then reaches the final state `flushed`.
 */
import { assign, raise, setup } from "xstate";
import type { SpooledSample } from "../adapters/types.ts";
import type { DeliveryOutcome } from "./deliver-batch.ts";
import { deliverSamples, openSink, readSpoolBatch } from "./forwarder-actors.ts";
import {
  deliveryCounted,
  type ForwarderContext,
  type ForwarderEvent,
  type ForwarderInput,
  initialForwarderContext,
  sinkUnavailable,
} from "./forwarder-context.ts";
import {
  logDeadLetters,
  logFlushed,
  logRecovered,
  logSpoolFailure,
  logUnavailable,
} from "./forwarder-logging.ts";

export type { ForwarderContext, ForwarderEvent, ForwarderInput };

export const forwarderMachine = setup({
  types: {
    input: {} as ForwarderInput,
    context: {} as ForwarderContext,
    events: {} as ForwarderEvent,
  },
  actors: { openSink, readSpoolBatch, deliverSamples },
  actions: {
    markStateEntry: assign({ since: ({ context }) => context.clock.monotonic() }),
    markOpened: assign({ opened: true }),
    keepBatch: assign((_, params: { batch: SpooledSample[] }) => ({ batch: params.batch })),
    countDelivery: assign(({ context }, params: { outcome: DeliveryOutcome }) =>
      deliveryCounted(context, params.outcome),
    ),
    logDeadLetters: ({ context }) => logDeadLetters(context),
    logRecovered: ({ context }) => logRecovered(context),
    resetAttempts: assign({ attempts: 0, lastError: null, outage: null }),
    recordUnavailable: assign(({ context }, params: { error: unknown }) =>
      sinkUnavailable(context, params.error),
    ),
    logUnavailable: ({ context }) => logUnavailable(context),
    logSpoolFailure: ({ context }, params: { error: unknown }) => logSpoolFailure(context, params.error),
    startFlush: assign({ flushing: true }),
    armFlushDeadline: raise(
      { type: "FLUSH_DEADLINE" },
      { delay: ({ event }) => (event.type === "FLUSH" ? event.deadlineMs : 0) },
    ),
    logFlushed: ({ context }) => logFlushed(context),
  },
  guards: {
    opened: ({ context }) => context.opened,
    flushing: ({ context }) => context.flushing,
    batchFound: (_, params: { batch: readonly SpooledSample[] }) => params.batch.length > 0,
    deliveryFailed: (_, params: { outcome: DeliveryOutcome }) => "failure" in params.outcome,
  },
  delays: {
    idleDelay: ({ context }) => context.idleDelayMs,
    backoff: ({ context }) => context.nextDelayMs,
  },
}).createMachine({
  id: "forwarder",
  initial: "opening",
  context: ({ input }) => initialForwarderContext(input),
  on: {
    FLUSH: { actions: ["startFlush", "armFlushDeadline"] },
    FLUSH_DEADLINE: ".flushed",
  },
  states: {
    opening: {
      entry: "markStateEntry",
      invoke: {
        id: "openSink",
        src: "openSink",
        input: ({ context }) => ({ sink: context.sink, tags: context.tags ?? [] }),
        onDone: { target: "reading", actions: ["markOpened", "logRecovered", "resetAttempts"] },
        onError: {
          target: "historianDown",
          actions: { type: "recordUnavailable", params: ({ event }) => ({ error: event.error }) },
        },
      },
    },
    reading: {
      invoke: {
        id: "readSpoolBatch",
        src: "readSpoolBatch",
        input: ({ context }) => ({ spool: context.spool, sink: context.sink.name, limit: context.batchSize }),
        onDone: [
          {
            guard: { type: "batchFound", params: ({ event }) => ({ batch: event.output }) },
            target: "delivering",
            actions: { type: "keepBatch", params: ({ event }) => ({ batch: event.output }) },
          },
          { guard: "flushing", target: "flushed" },
          { target: "idle" },
        ],
        onError: [
          {
            guard: "flushing",
            target: "flushed",
            actions: { type: "logSpoolFailure", params: ({ event }) => ({ error: event.error }) },
          },
          {
            target: "idle",
            actions: { type: "logSpoolFailure", params: ({ event }) => ({ error: event.error }) },
          },
        ],
      },
    },
    idle: {
      entry: "markStateEntry",
      after: { idleDelay: "reading" },
      on: {
        SAMPLES_APPENDED: "reading",
        FLUSH: { target: "reading", actions: ["startFlush", "armFlushDeadline"] },
      },
    },
    delivering: {
      invoke: {
        id: "deliverSamples",
        src: "deliverSamples",
        input: ({ context }) => ({
          sink: context.sink,
          spool: context.spool,
          batch: context.batch,
          batchSize: context.batchSize,
        }),
        onDone: [
          {
            guard: { type: "deliveryFailed", params: ({ event }) => ({ outcome: event.output }) },
            target: "historianDown",
            actions: [
              { type: "countDelivery", params: ({ event }) => ({ outcome: event.output }) },
              "logDeadLetters",
              { type: "recordUnavailable", params: ({ event }) => ({ error: event.output.failure }) },
            ],
          },
          {
            target: "reading",
            actions: [
              { type: "countDelivery", params: ({ event }) => ({ outcome: event.output }) },
              "logDeadLetters",
              "logRecovered",
              "resetAttempts",
            ],
          },
        ],
        onError: {
          target: "historianDown",
          actions: { type: "recordUnavailable", params: ({ event }) => ({ error: event.error }) },
        },
      },
    },
    historianDown: {
      entry: ["markStateEntry", "logUnavailable"],
      after: {
        backoff: [{ guard: "opened", target: "reading" }, { target: "opening" }],
      },
      on: {
        // Shutting down: try once more at once rather than sleeping through the deadline.
        FLUSH: [
          { guard: "opened", target: "reading", actions: ["startFlush", "armFlushDeadline"] },
          { target: "opening", actions: ["startFlush", "armFlushDeadline"] },
        ],
      },
    },
    flushed: {
      type: "final",
      entry: ["markStateEntry", "logFlushed"],
    },
  },
});
