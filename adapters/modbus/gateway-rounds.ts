/**
 * The order in which the units of one shared Modbus TCP connection get the wire. One transaction
 * is in flight at a time, so a unit that does not answer holds the wire for its whole timeout:
 * the order decides who waits behind it.
 *
 * Work comes in groups (the requests of one `read()`, or one write), and the wire is given in
 * rounds: every unit with work waiting gets one group per round, so none can starve another, and
 * within a round the units that answered their last request go first (oldest waiting work first)
 * and the others (a timeout since their last answer: suspect, demoted or probing) last. A unit that
 * just timed out therefore costs the units that answer nothing in the next round. Pure: the gateway
 * says who goes last.
 */

export interface RoundQueue<G> {
  /** Queues a group of `member`'s work. */
  push(member: string, group: G): void;
  /** The group to run next, taken off the queue; undefined when nothing waits. */
  next(suspended: (member: string) => boolean): { member: string; group: G } | undefined;
  /** Takes every waiting group of `member` off the queue (oldest first). */
  take(member: string): G[];
  /** Takes every waiting group off the queue. */
  takeAll(): G[];
  /** Groups waiting. */
  readonly size: number;
}

interface Waiting<G> {
  seq: number;
  group: G;
}

export function createRoundQueue<G>(): RoundQueue<G> {
  const queues = new Map<string, Waiting<G>[]>();
  let round: string[] = [];
  let seq = 0;
  let size = 0;

  function startRound(suspended: (member: string) => boolean): void {
    const members = [...queues.entries()]
      .filter(([, waiting]) => waiting.length > 0)
      .map(([member, waiting]) => ({
        member,
        oldest: waiting[0]?.seq ?? 0,
        last: suspended(member) ? 1 : 0,
      }));
    members.sort((a, b) => a.last - b.last || a.oldest - b.oldest);
    round = members.map((m) => m.member);
  }

  function next(suspended: (member: string) => boolean): { member: string; group: G } | undefined {
    if (size === 0) return undefined;
    for (let pass = 0; pass < 2; pass++) {
      while (round.length > 0) {
        const member = round.shift() as string;
        const waiting = queues.get(member);
        const first = waiting?.shift();
        if (first === undefined) continue; // its work was taken meanwhile
        size--;
        if (waiting?.length === 0) queues.delete(member);
        return { member, group: first.group };
      }
      startRound(suspended);
    }
    return undefined;
  }

  function take(member: string): G[] {
    const waiting = queues.get(member) ?? [];
    queues.delete(member);
    size -= waiting.length;
    return waiting.map((w) => w.group);
  }

  return {
    push(member, group) {
      const waiting = queues.get(member);
      const entry = { seq: seq++, group };
      if (waiting === undefined) queues.set(member, [entry]);
      else waiting.push(entry);
      size++;
    },
    next,
    take,
    takeAll() {
      const all = [...queues.values()].flat().sort((a, b) => a.seq - b.seq);
      queues.clear();
      round = [];
      size = 0;
      return all.map((w) => w.group);
    },
    get size() {
      return size;
    },
  };
}
