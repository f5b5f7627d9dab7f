/**
 * The push machine's input, context and events, the notices it sends the plant, its first
 * context, and the pure steps its `assign`s take: a subscription running, pushed readings stored
 * in the image, a refusal noted (backoff and failure episode), the reason of a silence.
 */
import type { Reading, UnitLink } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { ReconnectConfig } from "../schemas/plant-types.ts";
import { backoffDelay } from "./backoff.ts";
import { type FailureEpisode, noteFailure } from "./failure-episode.ts";
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

export function initialPushContext(input: PushInput): PushContext {
  return {
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
  };
}

export function silenceReason(context: PushContext): string {
  const silent = Math.round((context.clock.monotonic() - context.lastAliveAt) / 100) / 10;
  const limit = Math.round(context.silenceLimitMs / 100) / 10;
  return `subscription silent for ${silent} s (no publish response or keep-alive; limit ${limit} s)`;
}

/** The subscription runs: the image is live again and the failure episode is over. */
export function subscribed(context: PushContext, silenceLimitMs: number): Partial<PushContext> {
  return {
    active: true,
    reason: null,
    silenceLimitMs,
    lastAliveAt: context.clock.monotonic(),
    subscriptions: context.subscriptions + 1,
    episode: null,
  };
}

/** Pushed readings replace the image's values of their tags. */
export function readingsStored(
  context: PushContext,
  readings: readonly (readonly [string, Reading])[],
): Partial<PushContext> {
  const values = new Map(context.values);
  for (const [tag, reading] of readings) values.set(tag, reading);
  return { values, pushes: context.pushes + readings.length };
}

/** The server refused or ended the subscription: the image goes bad, the next attempt waits its backoff. */
export function refusalRecorded(context: PushContext, reason: string): Partial<PushContext> {
  const attempts = context.attempts + 1;
  const noted = noteFailure(context.episode, context.clock.monotonic(), reason);
  return {
    active: false,
    reason,
    attempts,
    refusals: context.refusals + 1,
    nextDelayMs: backoffDelay(attempts, context.retry, context.random),
    episode: noted.episode,
  };
}
