/**
 * Samples on their way to a sink when the full spool deletes them.
 *
 * The bound deletes the oldest samples, delivered or not: it is what keeps the file bounded. The
 * oldest undelivered samples may be the very ones a sink is writing at that moment (the database
 * just came back and the forwarder sent the whole spool). Deleted, they are counted as dropped at
 * once — the write may still fail, or the process die — and when every sink that lacked one acks
 * it after all, the write carried it: the count is taken back. `dropped` is then exactly what never
 * reached every sink, and a crash in between leaves the count on the safe side.
 *
 * A sample is "in hand" of a sink when a `readBatch` since the sink last read from its cursor
 * returned it (its seq lies at or below the top of those batches) and the sink has not acked it yet. A deleted sample can still arrive
 * only if every sink lacking it has it in hand: seq ≤ min over sinks of max(cursor, top handed out).
 * That is one bound, so the samples that can still arrive are the deleted ones up to it.
 */

export interface InFlightLedger {
  /**
   * A sink read a batch up to `top`. Read from its cursor, what it had in hand before and was
   * deleted can no longer arrive (the sink starts over); read ahead (`ahead`), the earlier batches
   * are still on their way and stay in hand.
   */
  handedOut(sink: string, top: number, ahead?: boolean): void;
  /** The highest deleted seq that may still arrive, given the cursors now (0: none). */
  reachableTop(cursors: ReadonlyMap<string, number>): number;
  /** Deleted samples that may still arrive: seq → the sinks that lacked it when it was deleted. */
  remember(seqs: readonly number[], cursors: ReadonlyMap<string, number>): void;
  /** How many remembered samples an ack by `sink` up to `cursor` completes (changes nothing). */
  completedBy(sink: string, cursor: number): number;
  /** After the ack's commit: `sink` has everything up to `cursor`. */
  settle(sink: string, cursor: number): void;
}

export function createInFlightLedger(): InFlightLedger {
  /** Per sink: the highest seq its last readBatch handed out. */
  const tops = new Map<string, number>();
  const owed = new Map<number, Set<string>>();

  return {
    handedOut(sink, top, ahead = false) {
      if (ahead) {
        tops.set(sink, Math.max(top, tops.get(sink) ?? 0));
        return;
      }
      for (const [seq, sinks] of owed) if (sinks.has(sink)) owed.delete(seq);
      tops.set(sink, top);
    },

    reachableTop(cursors) {
      let reach = Number.POSITIVE_INFINITY;
      let anyInHand = false;
      for (const [sink, cursor] of cursors) {
        const top = tops.get(sink) ?? 0;
        if (top > cursor) anyInHand = true;
        reach = Math.min(reach, Math.max(cursor, top));
      }
      return anyInHand && Number.isFinite(reach) ? reach : 0;
    },

    remember(seqs, cursors) {
      for (const seq of seqs) {
        const lacking = new Set<string>();
        for (const [sink, cursor] of cursors) if (cursor < seq) lacking.add(sink);
        if (lacking.size > 0) owed.set(seq, lacking);
      }
    },

    completedBy(sink, cursor) {
      let completed = 0;
      for (const [seq, sinks] of owed) if (seq <= cursor && sinks.size === 1 && sinks.has(sink)) completed++;
      return completed;
    },

    settle(sink, cursor) {
      for (const [seq, sinks] of owed) {
        if (seq > cursor || !sinks.delete(sink)) continue;
        if (sinks.size === 0) owed.delete(seq);
      }
    },
  };
}
