/**
 * What the forwarder logs: dead letters and conflicts of a delivery, an outage of its sink (warn
 * when it starts, every 5 minutes while it lasts, info when it ends), a failed spool read, the
 * flush. Each reads the context; none changes it.
 */
import { errorMessage } from "../lib/errors.ts";
import { describeDuration, noteRecovery } from "./failure-episode.ts";
import type { ForwarderContext } from "./forwarder-context.ts";

export function logDeadLetters(context: ForwarderContext): void {
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
}

export function logRecovered(context: ForwarderContext): void {
  const ended = noteRecovery(context.outage, context.clock.monotonic());
  if (ended.kind !== "ended") return;
  context.log.info(
    { sink: context.sink.name, retries: ended.episode.failures, outageMs: Math.round(ended.forMs) },
    `${context.sink.name} available again after ${describeDuration(ended.forMs)} (${ended.episode.failures} failed attempt(s))`,
  );
}

export function logUnavailable(context: ForwarderContext): void {
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
}

export function logSpoolFailure(context: ForwarderContext, error: unknown): void {
  context.log.error({ sink: context.sink.name, reason: errorMessage(error) }, "spool read failed");
}

export function logFlushed(context: ForwarderContext): void {
  context.log.info(
    {
      sink: context.sink.name,
      delivered: context.delivered,
      deadLettered: context.deadLettered,
      conflicts: context.conflicts,
    },
    `${context.sink.name} forwarder flushed`,
  );
}
