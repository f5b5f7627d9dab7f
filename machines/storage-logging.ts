/**
 * What the storage machine logs: overruns, wall-clock steps, dropped samples, a run of failed
 * spool appends (warn when it starts, every 5 minutes while it lasts, info when it ends) and the
 * stop. Each reads the context the machine's steps left; none changes it.
 */
import { describeDuration, noteRecovery } from "./failure-episode.ts";
import { now, type StorageContext } from "./storage-context.ts";
import { countSamples } from "./storage-samples.ts";

export function logOverruns(context: StorageContext): void {
  if (context.skippedNow > 0)
    context.log.warn(
      { skipped: context.skippedNow, overruns: context.overruns },
      `storage cycle overran its period: ${context.skippedNow} cycle(s) skipped`,
    );
}

export function logClockStep(context: StorageContext): void {
  if (context.stepNowMs === 0) return;
  const step = context.stepNowMs;
  context.log.warn(
    { stepMs: Math.round(step), stamp: new Date(context.cycleTime).toISOString() },
    `the wall clock stepped ${step > 0 ? "forward" : "back"} by ${describeDuration(Math.abs(step))}: ` +
      "storage keeps its cadence, sample times follow the clock" +
      (step < 0 ? "; samples that meet times already stored are kept as conflicts, never dropped" : ""),
  );
}

export function logLateUnits(context: StorageContext): void {
  // cycleWaiting was cleared by markLateUnits; the reasons are in the readings.
  context.log.debug({ lateUnits: context.lateUnits }, "storage deadline passed with units unanswered");
}

export function logDropped(context: StorageContext): void {
  if (context.droppedNow > 0)
    context.log.error(
      { dropped: context.droppedNow, total: context.dropped, kept: countSamples(context.pending) },
      `the spool refuses samples and memory holds ${countSamples(context.pending)}: the oldest ${context.droppedNow} dropped`,
    );
}

export function logAppendRecovered(context: StorageContext): void {
  const ended = noteRecovery(context.appendEpisode, now(context));
  if (ended.kind !== "ended") return;
  context.log.info(
    { failures: ended.episode.failures, dropped: context.dropped },
    `spool appends work again after ${describeDuration(ended.forMs)} (${ended.episode.failures} failed, ${context.dropped} samples dropped in all)`,
  );
}

export function logAppendFailure(context: StorageContext): void {
  const episode = context.appendEpisode;
  if (episode === null) return;
  const waiting = countSamples(context.pending);
  const fields = {
    reason: episode.lastReason,
    waiting,
    failures: episode.failures,
    dropped: context.dropped,
  };
  const message = `spool append failed, ${waiting} samples kept in memory for the next cycle: ${episode.lastReason}`;
  if (episode.failures === 1) context.log.warn(fields, message);
  else if (episode.loggedAt === now(context))
    context.log.warn(
      fields,
      `spool appends failing for ${describeDuration(now(context) - episode.since)} (${episode.failures} cycles, ${context.dropped} samples dropped): ${episode.lastReason}`,
    );
  else context.log.debug(fields, message);
}

export function logStopped(context: StorageContext): void {
  const unstored = countSamples(context.pending);
  const fields = { cycles: context.cycles, samples: context.samples, unstored };
  if (unstored > 0) context.log.error(fields, `storage stopped with ${unstored} samples the spool refused`);
  else context.log.info(fields, "storage stopped");
}
