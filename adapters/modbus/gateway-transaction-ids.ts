/**
 * The transaction ids of one shared Modbus TCP connection (1..65535, across every unit id), and
 * the requests that timed out whose late reply is still recognised: an id is not used again while
 * its late reply may still come, and the unit it was sent to is known when that reply arrives.
 * Pure bookkeeping; the wire tells it what happened.
 */
import { maxLateReplies } from "./frame-guard.ts";

export interface TransactionIds<M> {
  /** The next id not awaiting a late reply. */
  next(): number;
  /** The request `id` to `member` timed out (the oldest beyond `maxLateReplies` is forgotten). */
  expire(id: number, member: M): void;
  /** A late reply to `id` came: its unit, if still remembered; the id is free again. */
  lateReply(id: number): M | undefined;
}

export function createTransactionIds<M>(): TransactionIds<M> {
  const expiredBy = new Map<number, M>();
  let last = 0;
  return {
    next() {
      do last = (last % 0xffff) + 1;
      while (expiredBy.has(last));
      return last;
    },
    expire(id, member) {
      expiredBy.set(id, member);
      if (expiredBy.size > maxLateReplies) expiredBy.delete(expiredBy.keys().next().value as number);
    },
    lateReply(id) {
      const member = expiredBy.get(id);
      expiredBy.delete(id);
      return member;
    },
  };
}
