/**
 * A persistent failure (the historian down, writes to a unit failing, spool appends failing, a
 * link down) is logged loudly but not endlessly: at warn when it starts, again at warn at least
 * every `repeatMs` (5 minutes) with how long it has lasted and how often it failed, and at info
 * when it ends. Pure bookkeeping on the monotonic clock; the machines keep an episode in their
 * context and log what `noteFailure` / `noteRecovery` say.
 */

export interface FailureEpisode {
  /** Monotonic ms of the first failure of the episode. */
  since: number;
  /** Failures in the episode. */
  failures: number;
  /** Monotonic ms of the last warn line about it. */
  loggedAt: number;
  lastReason: string;
}

export type EpisodeLog =
  | { kind: "started"; episode: FailureEpisode }
  | { kind: "continues"; episode: FailureEpisode; forMs: number }
  | { kind: "ended"; episode: FailureEpisode; forMs: number }
  | { kind: "quiet" };

/** How often a failure that goes on is logged again at warn. */
export const episodeRepeatMs = 5 * 60_000;

export function noteFailure(
  episode: FailureEpisode | null,
  now: number,
  reason: string,
  repeatMs = episodeRepeatMs,
): { episode: FailureEpisode; log: EpisodeLog } {
  if (episode === null) {
    const started = { since: now, failures: 1, loggedAt: now, lastReason: reason };
    return { episode: started, log: { kind: "started", episode: started } };
  }
  const failures = episode.failures + 1;
  if (now - episode.loggedAt >= repeatMs) {
    const next = { ...episode, failures, loggedAt: now, lastReason: reason };
    return { episode: next, log: { kind: "continues", episode: next, forMs: now - episode.since } };
  }
  return { episode: { ...episode, failures, lastReason: reason }, log: { kind: "quiet" } };
}

export function noteRecovery(episode: FailureEpisode | null, now: number): EpisodeLog {
  if (episode === null) return { kind: "quiet" };
  return { kind: "ended", episode, forMs: now - episode.since };
}

/** `3 min 20 s`, `1 h 5 min`: a duration for a log line. */
export function describeDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}
