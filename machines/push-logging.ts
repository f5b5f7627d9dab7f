/**
 * What the push machine logs: a subscription running (info when it ends a run of refusals), and
 * a refusal (warn when the run starts, every 5 minutes while it lasts, debug in between). Each
 * reads the context; none changes it.
 */
import { describeDuration, noteRecovery } from "./failure-episode.ts";
import type { PushContext } from "./push-context.ts";

export function logSubscribed(context: PushContext): void {
  const log = noteRecovery(context.episode, context.clock.monotonic());
  const fields = { unit: context.unit, tags: context.tags.length };
  if (log.kind === "ended")
    context.log.info(
      { ...fields, refusals: log.episode.failures },
      `${context.unit} subscription running again after ${describeDuration(log.forMs)} (${log.episode.failures} refusals)`,
    );
  else context.log.debug(fields, `${context.unit} subscription running`);
}

export function logRefusal(context: PushContext): void {
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
}
