/**
 * The forwarder's input, context and events, its first context, and the pure steps its
 * `assign`s take: count a delivery, note the sink unavailable (backoff and outage episode).
 */
import type { HistorianSink, Spool, SpooledSample, TagInfo } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import { errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { ReconnectConfig } from "../schemas/plant-types.ts";
import { backoffDelay } from "./backoff.ts";
import type { DeliveryOutcome } from "./deliver-batch.ts";
import { type FailureEpisode, noteFailure } from "./failure-episode.ts";

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

export function initialForwarderContext(input: ForwarderInput): ForwarderContext {
  return {
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
  };
}

/** Adds one delivery's writes, samples delivered, dead letters and conflicts to the figures. */
export function deliveryCounted(
  context: ForwarderContext,
  outcome: DeliveryOutcome,
): Partial<ForwarderContext> {
  return {
    batches: context.batches + outcome.delivery.writes,
    delivered: context.delivered + outcome.delivery.delivered,
    deadLettered: context.deadLettered + outcome.delivery.deadLettered,
    conflicts: context.conflicts + outcome.delivery.conflicts,
    lastOutcome: outcome,
    batch: [],
  };
}

/** The sink was unavailable: one more attempt, the backoff before the next, the outage episode. */
export function sinkUnavailable(context: ForwarderContext, error: unknown): Partial<ForwarderContext> {
  const attempts = context.attempts + 1;
  const reason = errorMessage(error);
  return {
    attempts,
    retries: context.retries + 1,
    lastError: reason,
    nextDelayMs: backoffDelay(attempts, context.retry, context.random),
    outage: noteFailure(context.outage, context.clock.monotonic(), reason).episode,
  };
}
