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
import { createFrameGuard, type FrameGuard } from "./frame-guard.ts";
import { type RequestGroup, settle, skipRest, type TransactionOutcome } from "./gateway-groups.ts";
import type { GatewayMember } from "./gateway-member.ts";
import { createRoundQueue } from "./gateway-rounds.ts";
import { createSilenceWatch } from "./gateway-silence.ts";
import { createTransactionIds } from "./gateway-transaction-ids.ts";
import { mbapFrame } from "./pdu.ts";

export type { TransactionOutcome };

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

interface InFlight {
  group: RequestGroup;
  transactionId: number;
  timer: NodeJS.Timeout;
}

export function createGatewayWire(options: GatewayWireOptions): GatewayWire {
  return new SharedWire(options);
}

class SharedWire implements GatewayWire {
  readonly members = new Set<GatewayMember>();
  readonly closed: Promise<void>;
  private readonly options: GatewayWireOptions;
  /** Every unit that ever had work on the wire, by name (the round queue knows names only). */
  private readonly byName = new Map<string, GatewayMember>();
  private readonly queue = createRoundQueue<RequestGroup>();
  private readonly ids = createTransactionIds<GatewayMember>();
  private readonly silence = createSilenceWatch<GatewayMember>();
  private readonly guard: FrameGuard;
  private inFlight: InFlight | undefined;
  private isEnded = false;
  private pumpQueued = false;

  constructor(options: GatewayWireOptions) {
    this.options = options;
    const { socket } = options;
    this.closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    this.guard = createFrameGuard({
      onFrame: (frame) => this.answered(frame),
      onLate: (frame, transactionId) => this.lateReply(frame, transactionId),
      onViolation: (message) =>
        this.endBy(new PlantbridgeError(ErrorCode.MODBUS_PROTOCOL, `Modbus protocol error: ${message}`)),
    });
    socket.on("data", (chunk: Buffer) => this.guard.received(chunk));
    let lastSocketError: string | undefined;
    socket.on("error", (e) => {
      lastSocketError = e.message;
    });
    socket.once("close", () =>
      this.endBy(
        new PlantbridgeError(
          ErrorCode.LINK_LOST,
          `socket to ${options.address} closed: ${lastSocketError ?? "closed by the gateway"}`,
        ),
      ),
    );
  }

  get ended(): boolean {
    return this.isEnded;
  }

  attach(member: GatewayMember): void {
    this.members.add(member);
    this.byName.set(member.name, member);
  }

  detach(member: GatewayMember, error: PlantbridgeError): boolean {
    this.members.delete(member);
    for (const group of this.queue.take(member.name)) group.reject(error);
    const inFlight = this.inFlight;
    if (inFlight?.group.member === member && !inFlight.group.cancelled) {
      // The request is on the wire: its reply (or timeout) is still awaited, but no one listens.
      inFlight.group.cancelled = true;
      inFlight.group.reject(error);
    }
    return this.members.size === 0;
  }

  run(member: GatewayMember, pdus: readonly Buffer[]): Promise<TransactionOutcome[]> {
    if (this.isEnded || !this.members.has(member)) {
      return Promise.reject(new PlantbridgeError(ErrorCode.NOT_CONNECTED, "not connected"));
    }
    return new Promise<TransactionOutcome[]>((resolve, reject) => {
      const group: RequestGroup = { member, pdus, outcomes: [], resolve, reject, cancelled: false };
      const now = this.options.clock.monotonic();
      const admission = admit(member.state, now);
      if (admission.kind === "refuse") {
        // demoted: refused at once, without a turn on the wire
        skipRest(group, ErrorCode.MODBUS_DEMOTED, admission.reason, now);
        return;
      }
      this.queue.push(member.name, group);
      this.schedulePump();
    });
  }

  end(error: PlantbridgeError): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.options.socket.destroy();
    const inFlight = this.inFlight;
    if (inFlight !== undefined) {
      clearTimeout(inFlight.timer);
      if (!inFlight.group.cancelled) inFlight.group.reject(error);
      this.inFlight = undefined;
    }
    for (const group of this.queue.takeAll()) group.reject(error);
    this.members.clear();
    this.options.log.debug({ reason: error.message }, "shared connection ended");
  }

  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    // Work queued in the same tick (a storage cycle reads every unit at once) is ordered by the
    // rounds before the first request leaves.
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    const goesLast = (name: string) => {
      const member = this.byName.get(name);
      return member !== undefined && isSuspect(member.state);
    };
    while (!this.isEnded && this.inFlight === undefined) {
      const next = this.queue.next(goesLast);
      if (next === undefined) return;
      this.sendNext(next.group);
    }
  }

  /** Sends the group's next request, or settles the group; leaves `inFlight` set while one is out. */
  private sendNext(group: RequestGroup): void {
    if (group.cancelled) return;
    const pdu = group.pdus[group.outcomes.length];
    if (pdu === undefined) {
      settle(group);
      return;
    }
    const now = this.options.clock.monotonic();
    const admission = admit(group.member.state, now);
    if (admission.kind === "refuse") {
      skipRest(group, ErrorCode.MODBUS_DEMOTED, admission.reason, now);
      return;
    }
    const transactionId = this.ids.next();
    const frame = mbapFrame(transactionId, group.member.unitId, pdu);
    this.guard.sent(frame);
    const timer = setTimeout(() => this.timedOut(), group.member.timeoutMs);
    this.inFlight = { group, transactionId, timer };
    group.member.figures.requests++;
    this.options.socket.write(frame);
  }

  private answered(frame: Buffer): void {
    const current = this.inFlight;
    // The guard passes only a reply to the request in flight.
    if (current === undefined || frame.readUInt16BE(0) !== current.transactionId) return;
    clearTimeout(current.timer);
    this.inFlight = undefined;
    this.silence.heard();
    const { group } = current;
    const member = group.member;
    const at = this.options.clock.monotonic();
    const pdu = frame.subarray(7);
    const isException = (pdu.readUInt8(0) & 0x80) !== 0;
    const code = isException
      ? (this.guard.exceptionCodeOnWire(current.transactionId) ?? pdu.readUInt8(1))
      : 0;
    group.outcomes.push(isException ? { kind: "exception", code, at } : { kind: "reply", pdu, at });
    if (isException && gatewayNoAnswer.has(code)) {
      // The gateway answered for a unit that did not: like a timeout, without holding the wire.
      const reason = `unit id ${member.unitId} did not answer (the gateway said: ${modbusExceptionReason(code)})`;
      member.noteNoAnswer(at, reason);
      const skipped = isSuspended(member.state) ? ErrorCode.MODBUS_DEMOTED : ErrorCode.MODBUS_NO_REPLY;
      skipRest(group, skipped, reason, this.options.clock.monotonic());
    } else {
      member.noteAnswer();
      this.sendNext(group);
    }
    this.pump();
  }

  private lateReply(frame: Buffer, transactionId: number): void {
    this.silence.heard();
    this.ids.lateReply(transactionId)?.noteLateReply(frame.readUInt8(7));
  }

  private timedOut(): void {
    const current = this.inFlight;
    if (current === undefined || this.isEnded) return;
    const { group, transactionId } = current;
    const member = group.member;
    this.guard.expire(transactionId);
    this.ids.expire(transactionId, member);
    const reason = `no reply from unit id ${member.unitId} within ${member.timeoutMs} ms`;
    const inGoodStanding = (m: GatewayMember) => !isSuspended(m.state);
    if (
      inGoodStanding(member) &&
      this.members.has(member) &&
      this.silence.timedOut(member, this.members, inGoodStanding)
    ) {
      this.connectionSilent(); // rejects the group in flight with the rest
      return;
    }
    this.inFlight = undefined;
    const clock = this.options.clock;
    member.noteNoAnswer(clock.monotonic(), reason);
    if (isSuspended(member.state)) {
      // (re)demoted: its waiting work is refused now rather than when its turn comes
      const refused = demotedReason(member.state);
      for (const waiting of this.queue.take(member.name))
        skipRest(waiting, ErrorCode.MODBUS_DEMOTED, refused, clock.monotonic());
    }
    skipRest(group, ErrorCode.MODBUS_NO_REPLY, reason, clock.monotonic());
    this.pump();
  }

  /** Every unit in good standing went silent at once: the gateway is gone, not a unit. */
  private connectionSilent(): void {
    const silent = [...new Set(this.silence.streak)];
    // The timeouts of the streak are the connection's: they do not demote anyone (the last one
    // was never counted).
    for (const m of this.silence.streak.slice(0, -1)) m.forgiveTimeout();
    const ids = silent.map((m) => m.unitId).join(", ");
    this.endBy(
      new PlantbridgeError(
        ErrorCode.MODBUS_TIMEOUT,
        `no reply on the shared connection to ${this.options.address} from any unit in good standing (unit id ${ids}): the connection is taken as dead`,
      ),
    );
  }

  private endBy(error: PlantbridgeError): void {
    if (this.isEnded) return;
    const left = [...this.members];
    this.end(error);
    this.options.onEnded(error, left);
  }
}
