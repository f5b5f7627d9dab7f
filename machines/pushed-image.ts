/**
 * The image of one unit's pushed values (OPC UA monitored items) as its push machine keeps it,
 * and the rule that turns it into a reading: a pushed value is only as good as its subscription
 * is alive. A subscription silent for longer than its limit (no publish response, no keep-alive)
 * serves bad readings until it shows life again; one that is not running serves bad readings
 * with the reason.
 */
import type { Reading, ReadingStamp } from "../adapters/types.ts";

export interface PushedImage {
  /** The subscription exists on the server and has not ended. */
  active: boolean;
  /** Why it is not active (refused, ended, not created yet). */
  reason: string | null;
  /** The latest reading per local tag name. */
  values: ReadonlyMap<string, Reading>;
  /** Monotonic ms of the subscription's last sign of life. */
  lastAliveAt: number;
  /** Silence longer than this means the subscription is dead. */
  silenceLimitMs: number;
}

function bad(reason: string, at: ReadingStamp): Reading {
  return { value: null, quality: "bad", reason, ...at };
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

export function pushedReading(
  image: PushedImage | undefined,
  unit: string,
  tag: string,
  at: ReadingStamp,
): Reading {
  if (image === undefined) return bad(`${unit} has no subscription running`, at);
  if (!image.active) return bad(`${unit} subscription not running: ${image.reason ?? "starting"}`, at);
  const silentFor = at.receivedAt - image.lastAliveAt;
  if (silentFor > image.silenceLimitMs) {
    return bad(
      `${unit} subscription silent for ${seconds(silentFor)} s (no publish response or keep-alive; limit ${seconds(image.silenceLimitMs)} s)`,
      at,
    );
  }
  return image.values.get(tag) ?? bad(`no value pushed yet by ${unit}.${tag}`, at);
}
