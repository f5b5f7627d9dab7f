/**
 * Forwarder: drains the spool into one historian sink, in spool order, with the sink's own
 * cursor, keeping up to the sink's `pipelineDepth` batches on their way at once, each acked in
 * spool order after its own commit (deliver-spool.ts). It owns the sink's reachability (no
 * separate connection machine): `opening` retries `sink.open` with backoff; an unavailable sink parks the forwarder in `historianDown` and the
 * same samples are retried from the cursor after the backoff (an outage only grows the spool);
 * rejected rows are isolated and dead-lettered (deliver-batch.ts). `FLUSH` (shutdown) drains
 * until the spool is empty or the deadline passes, then reaches the final state `flushed`.
 */
import { assign, fromPromise, raise, setup } from "xstate";
import type { HistorianSink, Spool, SpooledSample, TagInfo } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { ReconnectConfig } from "../schemas/plant-types.ts";
import { backoffDelay } from "./backoff.ts";
import type { DeliveryOutcome } from "./deliver-batch.ts";
import { deliverFromSpool } from "./deliver-spool.ts";
import { describeDuration, type FailureEpisode, noteFailure, noteRecovery } from "./failure-episode.ts";

/**
 * Most batches one delivery takes before the machine counts them and reads again: while the spool
 * keeps filling, the figures (health, status) move on at least this often.
 */
const batchesPerDelivery = 16;

export interface ForwarderInput {
  spool: Spool;
  sink: HistorianSink;
  batchSize: number;
  idleDelayMs: number;
  retry: ReconnectConfig;
  random: () => number;
  log: Log;
  clock: Clock;
  /** Tags registered with the sink when it opens. Default none. */
  tags?: readonly TagInfo[];
}

export interface ForwarderContext extends ForwarderInput {
  opened: boolean;
  batch: SpooledSample[];
  /** Successful sink writes. */
  batches: number;
  delivered: number;
  deadLettered: number;
  /** Samples the historian already held with another value at their (tag, time), kept as dead letters. */
  conflicts: number;
  /** Times the sink was found unavailable (each one is retried). */
  retries: number;
  /** Consecutive failures, drives the backoff; 0 once the sink answers again. */
  attempts: number;
  nextDelayMs: number;
  lastError: string | null;
  flushing: boolean;
  /** Monotonic ms the current state was entered. */
  since: number;
  lastOutcome: DeliveryOutcome | null;
  /** The current outage of the sink, for loud but bounded logging. */
  outage: FailureEpisode | null;
}

export type ForwarderEvent =
  | { type: "SAMPLES_APPENDED" }
  | { type: "FLUSH"; deadlineMs: number }
  | { type: "FLUSH_DEADLINE" };

export const forwarderMachine = setup({
  types: {
    input: {} as ForwarderInput,
    context: {} as ForwarderContext,
    events: {} as ForwarderEvent,
  },
  actors: {
    openSink: fromPromise<void, { sink: HistorianSink; tags: readonly TagInfo[] }>(({ input }) =>
      input.sink.open(input.tags),
    ),
    readSpoolBatch: fromPromise<SpooledSample[], { spool: Spool; sink: string; limit: number }>(
      async ({ input }) => input.spool.readBatch(input.sink, input.limit),
    ),
    deliverSamples: fromPromise<
      DeliveryOutcome,
      { sink: HistorianSink; spool: Spool; batch: readonly SpooledSample[]; batchSize: number }
    >(({ input, signal }) =>
      deliverFromSpool({
        sink: input.sink,
        spool: input.spool,
        first: input.batch,
        batchSize: input.batchSize,
        maxBatches: batchesPerDelivery,
        signal,
      }),
    ),
  },
  actions: {
    markStateEntry: assign({ since: ({ context }) => context.clock.monotonic() }),
    markOpened: assign({ opened: true }),
    keepBatch: assign((_, params: { batch: SpooledSample[] }) => ({ batch: params.batch })),
    countDelivery: assign(({ context }, params: { outcome: DeliveryOutcome }) => ({
      batches: context.batches + params.outcome.delivery.writes,
      delivered: context.delivered + params.outcome.delivery.delivered,
      deadLettered: context.deadLettered + params.outcome.delivery.deadLettered,
      conflicts: context.conflicts + params.outcome.delivery.conflicts,
      lastOutcome: params.outcome,
      batch: [],
    })),
    logDeadLetters: ({ context }) => {
      const delivery = context.lastOutcome?.delivery;
      if (delivery !== undefined && delivery.conflicts > 0) {
        context.log.warn(
          { sink: context.sink.name, conflicts: delivery.conflicts, delivered: delivery.delivered },
          `${context.sink.name} already held other values for ${delivery.conflicts} sample(s): not overwritten, kept in the dead-letter table: ${delivery.conflictReasons[0] ?? ""}`,
        );
      }
      if (delivery === undefined || delivery.deadLettered === 0) return;
      context.log.warn(
        { sink: context.sink.name, deadLettered: delivery.deadLettered, delivered: delivery.delivered },
        `${context.sink.name} rejected ${delivery.deadLettered} sample(s), kept in the dead-letter table: ${delivery.rejections[0] ?? ""}`,
      );
    },
    logRecovered: ({ context }) => {
      const ended = noteRecovery(context.outage, context.clock.monotonic());
      if (ended.kind !== "ended") return;
      context.log.info(
        { sink: context.sink.name, retries: ended.episode.failures, outageMs: Math.round(ended.forMs) },
        `${context.sink.name} available again after ${describeDuration(ended.forMs)} (${ended.episode.failures} failed attempt(s))`,
      );
    },
    resetAttempts: assign({ attempts: 0, lastError: null, outage: null }),
    recordUnavailable: assign(({ context }, params: { error: unknown }) => {
      const attempts = context.attempts + 1;
      const reason = errorMessage(params.error);
      return {
        attempts,
        retries: context.retries + 1,
        lastError: reason,
        nextDelayMs: backoffDelay(attempts, context.retry, context.random),
        outage: noteFailure(context.outage, context.clock.monotonic(), reason).episode,
      };
    }),
    logUnavailable: ({ context }) => {
      const outage = context.outage;
      if (outage === null) return;
      const now = context.clock.monotonic();
      const fields = { sink: context.sink.name, reason: context.lastError, retryInMs: context.nextDelayMs };
      const message = `${context.sink.name} unavailable, samples stay in the spool; retry in ${context.nextDelayMs} ms: ${context.lastError ?? ""}`;
      if (outage.failures === 1) context.log.warn(fields, message);
      else if (outage.loggedAt === now)
        context.log.warn(
          { ...fields, failures: outage.failures, outageMs: Math.round(now - outage.since) },
          `${context.sink.name} unavailable for ${describeDuration(now - outage.since)} (${outage.failures} attempts), samples stay in the spool: ${context.lastError ?? ""}`,
        );
      else context.log.debug(fields, message);
    },
    logSpoolFailure: ({ context }, params: { error: unknown }) => {
      context.log.error({ sink: context.sink.name, reason: errorMessage(params.error) }, "spool read failed");
    },
    startFlush: assign({ flushing: true }),
    armFlushDeadline: raise(
      { type: "FLUSH_DEADLINE" },
      { delay: ({ event }) => (event.type === "FLUSH" ? event.deadlineMs : 0) },
    ),
    logFlushed: ({ context }) => {
      context.log.info(
        {
          sink: context.sink.name,
          delivered: context.delivered,
          deadLettered: context.deadLettered,
          conflicts: context.conflicts,
        },
        `${context.sink.name} forwarder flushed`,
      );
    },
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
  context: ({ input }) => ({
    ...input,
    opened: false,
    batch: [],
    batches: 0,
    delivered: 0,
    deadLettered: 0,
    conflicts: 0,
    retries: 0,
    attempts: 0,
    nextDelayMs: 0,
    lastError: null,
    flushing: false,
    since: input.clock.monotonic(),
    lastOutcome: null,
    outage: null,
  }),
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
