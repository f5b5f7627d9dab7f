/**
 * When a shared connection is dead rather than one of its units: every unit in good standing on it
 * (not demoted, not probing) has timed out since the last frame arrived. Any frame — a reply, an
 * exception, a late reply — shows the connection alive and starts over. Pure bookkeeping; the wire
 * tells it what happened.
 */

export interface SilenceWatch<M> {
  /** A frame arrived: the connection lives. */
  heard(): void;
  /**
   * A unit in good standing timed out. True when now every unit in good standing among `members`
   * has timed out since the last frame: the connection is taken as dead.
   */
  timedOut(member: M, members: Iterable<M>, inGoodStanding: (member: M) => boolean): boolean;
  /** The timeouts since the last frame, oldest first (a unit once per timeout). */
  readonly streak: readonly M[];
}

export function createSilenceWatch<M>(): SilenceWatch<M> {
  let streak: M[] = [];
  return {
    heard() {
      streak = [];
    },
    timedOut(member, members, inGoodStanding) {
      streak.push(member);
      for (const m of members) if (inGoodStanding(m) && !streak.includes(m)) return false;
      return true;
    },
    get streak() {
      return streak;
    },
  };
}
