/**
 * One TCP connection to a Modbus gateway, shared by several units (unit ids): the socket, its frame
 * guard, and the transactions on it, one in flight at a time (many gateways allow no more).
 *
 * - The wire owns the transaction ids (1..65535, across every unit id), so a reply is matched by
 *   its id alone, and a reply that comes after its request timed out is recognised by the frame
 *   guard (`expire`), counted and dropped; it never reaches a later request.
 * - Work comes in groups (a read's requests, one write) and the wire is given in rounds
 *   (gateway-rounds.ts): units that answered their last request first, the others (suspect,
 *   demoted, probing) last.
 * - A timeout concerns the unit id that did not answer: the rest of its group is not sent (it would
 *   time out too), the timeout counts towards its demotion (demotion.ts), and the wire goes on.
 *   Only when every unit in good standing on the wire has timed out with no frame in between is the
 *   connection taken as dead (the gateway, not a unit): those timeouts do not count towards
 *   demotions, and the wire ends with PB_ERR_MODBUS_TIMEOUT.
 * - Exceptions 10 and 11 (gateway path unavailable, target device failed to respond) are the
 *   gateway's way of saying the unit did not answer: they count towards demotion like a timeout.
 * - The socket closing, or bytes that answer nothing (the guard's violation), end the wire for
 *   every unit on it (`onEnded`).
 */
import type { Socket } from "node:net";
import type { Clock } from "../../lib/clock.ts";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { admit, demotedReason, isSuspect, isSuspended } from "./demotion.ts";
import { modbusExceptionReason } from "./exception-codes.ts";
import { createFrameGuard, type FrameGuard, maxLateReplies } from "./frame-guard.ts";
import type { GatewayMember } from "./gateway-member.ts";
import { createRoundQueue } from "./gateway-rounds.ts";
import { createSilenceWatch } from "./gateway-silence.ts";
import { mbapFrame } from "./pdu.ts";

/** What became of one request of a group. */
export type TransactionOutcome =
  /** A normal reply, checked by the frame guard: its PDU, and when it arrived (monotonic ms). */
  | { kind: "reply"; pdu: Buffer; at: number }
  | { kind: "exception"; code: number; at: number }
  /** Not answered, or not sent: `code` is PB_ERR_MODBUS_NO_REPLY or PB_ERR_MODBUS_DEMOTED. */
  | { kind: "unanswered"; code: ErrorCode; reason: string; at: number };

interface Group {
  member: GatewayMember;
  pdus: readonly Buffer[];
  outcomes: TransactionOutcome[];
  resolve(outcomes: TransactionOutcome[]): void;
  reject(error: PlantbridgeError): void;
  /** Its unit left the wire: whatever still happens to it is not reported. */
  cancelled: boolean;
}

interface InFlight {
  group: Group;
  transactionId: number;
  timer: NodeJS.Timeout;
}

export interface GatewayWire {
  readonly members: ReadonlySet<GatewayMember>;
  readonly ended: boolean;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  attach(member: GatewayMember): void;
  /** Takes the unit off the wire: its waiting work rejects with `error`. True when no unit is left. */
  detach(member: GatewayMember, error: PlantbridgeError): boolean;
  /** Queues a group of requests (PDUs) of an attached unit; one outcome per request, in order. */
  run(member: GatewayMember, pdus: readonly Buffer[]): Promise<TransactionOutcome[]>;
  /** Ends the wire: the socket is destroyed and whatever waits rejects with `error`. */
  end(error: PlantbridgeError): void;
}

export interface GatewayWireOptions {
  socket: Socket;
  /** `host:port`, for messages. */
  address: string;
  clock: Clock;
  log: Log;
  /** The wire ended by itself (socket closed, protocol violation, every unit silent), once. */
  onEnded(error: PlantbridgeError, members: readonly GatewayMember[]): void;
}

/** Exceptions by which a gateway says that the unit behind it did not answer. */
const gatewayNoAnswer: ReadonlySet<number> = new Set([10, 11]);

export function createGatewayWire(options: GatewayWireOptions): GatewayWire {
  const { socket, clock, log } = options;
  const members = new Set<GatewayMember>();
  /** Every unit that ever had work on the wire, by name (the round queue knows names only). */
  const byName = new Map<string, GatewayMember>();
  const goesLast = (name: string) => {
    const member = byName.get(name);
    return member !== undefined && isSuspect(member.state);
  };
  const queue = createRoundQueue<Group>();
  const expiredBy = new Map<number, GatewayMember>();
  const silence = createSilenceWatch<GatewayMember>();
  let inFlight: InFlight | undefined;
  let lastTransactionId = 0;
  let ended = false;
  let pumpQueued = false;
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));

  const guard: FrameGuard = createFrameGuard({
    onFrame: (frame) => answered(frame),
    onLate: (frame, transactionId) => lateReply(frame, transactionId),
    onViolation: (message) =>
      endBy(new PlantbridgeError(ErrorCode.MODBUS_PROTOCOL, `Modbus protocol error: ${message}`)),
  });
  socket.on("data", (chunk: Buffer) => guard.received(chunk));
  let lastSocketError: string | undefined;
  socket.on("error", (e) => {
    lastSocketError = e.message;
  });
  socket.once("close", () =>
    endBy(
      new PlantbridgeError(
        ErrorCode.LINK_LOST,
        `socket to ${options.address} closed: ${lastSocketError ?? "closed by the gateway"}`,
      ),
    ),
  );

  function nextTransactionId(): number {
    do lastTransactionId = (lastTransactionId % 0xffff) + 1;
    while (expiredBy.has(lastTransactionId));
    return lastTransactionId;
  }

  function schedulePump(): void {
    if (pumpQueued) return;
    pumpQueued = true;
    // Work queued in the same tick (a storage cycle reads every unit at once) is ordered by the
    // rounds before the first request leaves.
    queueMicrotask(() => {
      pumpQueued = false;
      pump();
    });
  }

  function pump(): void {
    while (!ended && inFlight === undefined) {
      const next = queue.next(goesLast);
      if (next === undefined) return;
      sendNext(next.group);
    }
  }

  function finish(group: Group): void {
    if (!group.cancelled) group.resolve(group.outcomes);
  }

  /** Fills the group's remaining outcomes without sending them. */
  function skipRest(group: Group, code: ErrorCode, reason: string): void {
    const at = clock.monotonic();
    if (code === ErrorCode.MODBUS_DEMOTED)
      group.member.figures.refused += group.pdus.length - group.outcomes.length;
    while (group.outcomes.length < group.pdus.length)
      group.outcomes.push({ kind: "unanswered", code, reason, at });
    finish(group);
  }

  /** Sends the group's next request, or settles the group; leaves `inFlight` set while one is out. */
  function sendNext(group: Group): void {
    if (group.cancelled) return;
    const pdu = group.pdus[group.outcomes.length];
    if (pdu === undefined) {
      finish(group);
      return;
    }
    const admission = admit(group.member.state, clock.monotonic());
    if (admission.kind === "refuse") {
      skipRest(group, ErrorCode.MODBUS_DEMOTED, admission.reason);
      return;
    }
    const transactionId = nextTransactionId();
    const frame = mbapFrame(transactionId, group.member.unitId, pdu);
    guard.sent(frame);
    const timer = setTimeout(() => timedOut(), group.member.timeoutMs);
    inFlight = { group, transactionId, timer };
    group.member.figures.requests++;
    socket.write(frame);
  }

  function answered(frame: Buffer): void {
    const current = inFlight;
    // The guard passes only a reply to the request in flight.
    if (current === undefined || frame.readUInt16BE(0) !== current.transactionId) return;
    clearTimeout(current.timer);
    inFlight = undefined;
    silence.heard();
    const { group } = current;
    const member = group.member;
    const at = clock.monotonic();
    const pdu = frame.subarray(7);
    const isException = (pdu.readUInt8(0) & 0x80) !== 0;
    const code = isException ? (guard.exceptionCodeOnWire(current.transactionId) ?? pdu.readUInt8(1)) : 0;
    group.outcomes.push(isException ? { kind: "exception", code, at } : { kind: "reply", pdu, at });
    if (isException && gatewayNoAnswer.has(code)) {
      // The gateway answered for a unit that did not: like a timeout, without holding the wire.
      const reason = `unit id ${member.unitId} did not answer (the gateway said: ${modbusExceptionReason(code)})`;
      member.noteNoAnswer(at, reason);
      skipRest(
        group,
        isSuspended(member.state) ? ErrorCode.MODBUS_DEMOTED : ErrorCode.MODBUS_NO_REPLY,
        reason,
      );
    } else {
      member.noteAnswer();
      sendNext(group);
    }
    pump();
  }

  function lateReply(frame: Buffer, transactionId: number): void {
    silence.heard();
    const member = expiredBy.get(transactionId);
    expiredBy.delete(transactionId);
    member?.noteLateReply(frame.readUInt8(7));
  }

  function timedOut(): void {
    const current = inFlight;
    if (current === undefined || ended) return;
    const { group, transactionId } = current;
    const member = group.member;
    guard.expire(transactionId);
    expiredBy.set(transactionId, member);
    if (expiredBy.size > maxLateReplies) expiredBy.delete(expiredBy.keys().next().value as number);
    const reason = `no reply from unit id ${member.unitId} within ${member.timeoutMs} ms`;
    const inGoodStanding = (m: GatewayMember) => !isSuspended(m.state);
    if (inGoodStanding(member) && members.has(member) && silence.timedOut(member, members, inGoodStanding)) {
      connectionSilent(); // rejects the group in flight with the rest
      return;
    }
    inFlight = undefined;
    member.noteNoAnswer(clock.monotonic(), reason);
    if (isSuspended(member.state)) {
      // (re)demoted: its waiting work is refused now rather than when its turn comes
      const refused = demotedReason(member.state);
      for (const waiting of queue.take(member.name)) skipRest(waiting, ErrorCode.MODBUS_DEMOTED, refused);
    }
    skipRest(group, ErrorCode.MODBUS_NO_REPLY, reason);
    pump();
  }

  /** Every unit in good standing went silent at once: the gateway is gone, not a unit. */
  function connectionSilent(): void {
    const silent = [...new Set(silence.streak)];
    // The timeouts of the streak are the connection's: they do not demote anyone (the last one
    // was never counted).
    for (const m of silence.streak.slice(0, -1)) m.forgiveTimeout();
    const ids = silent.map((m) => m.unitId).join(", ");
    endBy(
      new PlantbridgeError(
        ErrorCode.MODBUS_TIMEOUT,
        `no reply on the shared connection to ${options.address} from any unit in good standing (unit id ${ids}): the connection is taken as dead`,
      ),
    );
  }

  function endBy(error: PlantbridgeError): void {
    if (ended) return;
    const left = [...members];
    end(error);
    options.onEnded(error, left);
  }

  function end(error: PlantbridgeError): void {
    if (ended) return;
    ended = true;
    socket.destroy();
    if (inFlight !== undefined) {
      clearTimeout(inFlight.timer);
      if (!inFlight.group.cancelled) inFlight.group.reject(error);
      inFlight = undefined;
    }
    for (const group of queue.takeAll()) group.reject(error);
    members.clear();
    log.debug({ reason: error.message }, "shared connection ended");
  }

  return {
    members,
    get ended() {
      return ended;
    },
    closed,
    attach(member) {
      members.add(member);
      byName.set(member.name, member);
    },
    detach(member, error) {
      members.delete(member);
      for (const group of queue.take(member.name)) group.reject(error);
      if (inFlight?.group.member === member && !inFlight.group.cancelled) {
        // The request is on the wire: its reply (or timeout) is still awaited, but no one listens.
        inFlight.group.cancelled = true;
        inFlight.group.reject(error);
      }
      return members.size === 0;
    },
    run(member, pdus) {
      if (ended || !members.has(member)) {
        return Promise.reject(new PlantbridgeError(ErrorCode.NOT_CONNECTED, "not connected"));
      }
      return new Promise<TransactionOutcome[]>((resolve, reject) => {
        const group: Group = { member, pdus, outcomes: [], resolve, reject, cancelled: false };
        const admission = admit(member.state, clock.monotonic());
        if (admission.kind === "refuse") {
          // demoted: refused at once, without a turn on the wire
          skipRest(group, ErrorCode.MODBUS_DEMOTED, admission.reason);
          return;
        }
        queue.push(member.name, group);
        schedulePump();
      });
    },
    end,
  };
}
