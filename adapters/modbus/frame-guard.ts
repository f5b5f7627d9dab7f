/**
 * The frame guard: checks every byte a Modbus TCP unit sends before the jsmodbus client sees it.
 *
 * jsmodbus parses replies inside its socket `data` handler and trusts the unit: an exception reply
 * with a code outside its table throws there (an uncaught exception that ends the process); a frame
 * it cannot parse (unknown function code, MBAP length 0, byte count past the frame) stays in its
 * buffer for good, and everything after it piles up behind; an MBAP length that lies is believed.
 *
 * The guard knows each request the client sent (`sent`) and lets through only a reply that answers
 * one of them exactly: MBAP protocol 0, the request's transaction id and unit id, a length of
 * 2..254 that is exactly the length of the expected reply, the request's function code with the
 * byte count the requested quantity needs (reads) or the echo of address and value/quantity (writes),
 * or an exception reply (function code + 0x80, one code byte). Anything else is a protocol violation:
 * the guard reports it once, drops everything it holds and ignores every later byte (the owner
 * destroys the socket). It keeps at most one incomplete frame (≤ 260 bytes), so a unit cannot make
 * it buffer more than that.
 *
 * An exception reply whose code jsmodbus cannot name reaches the library with a stand-in code it
 * can name, and the guard keeps the code that was on the wire (`exceptionCodeOnWire`).
 *
 * A shared connection (gateway-wire.ts) outlives a request that timed out: it `expire`s the
 * request instead of killing the stream. Its reply, should it still come, must pass the same checks
 * and is then handed to `onLate` and dropped, never to `onFrame`; the guard remembers the last
 * `maxLateReplies` expired requests (the oldest forgotten first: a reply to one of those is a
 * violation again).
 */

/** The MBAP header: transaction id, protocol id, length, unit id. */
export const mbapHeaderBytes = 7;
/** Largest MBAP length field: unit id + the longest PDU (253 bytes). */
export const maxMbapLength = 254;
/** Smallest MBAP length field: unit id + a function code. */
export const minMbapLength = 2;
/** The most bytes the guard ever holds: one incomplete frame. */
export const maxHeldBytes = 6 + maxMbapLength;

/** Expired requests whose late reply is still recognised (and dropped). */
export const maxLateReplies = 16;

/** Exception codes jsmodbus can turn into a message (its `errorCodeToMessage`); any other throws. */
const libraryExceptionCodes: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 8, 10, 11]);
/** What jsmodbus is shown instead of a code it cannot name: 4, server device failure. */
const standInExceptionCode = 4;

/** What the unit must answer to one request. */
export interface ExpectedReply {
  transactionId: number;
  unitId: number;
  functionCode: number;
  /** Exact PDU length of a normal reply (function code included), or undefined if unknown. */
  pduBytes: number | undefined;
  /** The bytes after the function code a normal reply must start with (write echoes, byte counts). */
  pduPrefix: Buffer;
}

/**
 * What a request frame asks for, from the MBAP request the client writes. Undefined for bytes that
 * are not one complete request frame.
 */
export function expectedReplyTo(request: Buffer): ExpectedReply | undefined {
  if (request.length < mbapHeaderBytes + 1) return undefined;
  if (request.readUInt16BE(4) !== request.length - 6) return undefined;
  const transactionId = request.readUInt16BE(0);
  const unitId = request.readUInt8(6);
  const functionCode = request.readUInt8(7);
  const fields = request.subarray(8);
  const base = { transactionId, unitId, functionCode };
  switch (functionCode) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (fields.length < 4) return undefined;
      const quantity = fields.readUInt16BE(2);
      const byteCount = functionCode <= 2 ? Math.ceil(quantity / 8) : quantity * 2;
      if (byteCount > 250) return undefined;
      return { ...base, pduBytes: 2 + byteCount, pduPrefix: Buffer.from([byteCount]) };
    }
    case 5:
    case 6:
    case 15:
    case 16:
      // the normal reply echoes the address and the value (5, 6) or the quantity (15, 16)
      if (fields.length < 4) return undefined;
      return { ...base, pduBytes: 5, pduPrefix: Buffer.from(fields.subarray(0, 4)) };
    default:
      return { ...base, pduBytes: undefined, pduPrefix: Buffer.alloc(0) };
  }
}

export interface FrameGuardOptions {
  /** One reply that answers a request in flight, as one buffer (never called after a violation). */
  onFrame: (frame: Buffer) => void;
  /** Called once, for the first byte that cannot be a reply to a request in flight. */
  onViolation: (message: string) => void;
  /** A complete, valid reply to an expired request (dropped). Needed only by a guard that expires requests. */
  onLate?: (frame: Buffer, transactionId: number) => void;
}

export interface FrameGuard {
  /** The client wrote this request frame: a reply to it may come. */
  sent(request: Buffer): void;
  /** The request timed out, the stream goes on: its reply, if it still comes, is dropped (`onLate`). */
  expire(transactionId: number): void;
  /** Bytes from the unit. */
  received(chunk: Buffer): void;
  /** A violation found outside the guard (the library failed on a frame): same effect as one found here. */
  fail(message: string): void;
  /** The exception code the unit sent in the latest exception reply, if it answered this transaction. */
  exceptionCodeOnWire(transactionId: number): number | undefined;
  /** Bytes held while a frame is incomplete (at most `maxHeldBytes`). */
  readonly held: number;
  /** Requests sent and not answered yet. */
  readonly inFlight: number;
  /** Expired requests whose late reply would still be recognised. */
  readonly expired: number;
  /** Set after a violation: the stream cannot be trusted, nothing passes any more. */
  readonly violation: string | undefined;
}

export function createFrameGuard(options: FrameGuardOptions): FrameGuard {
  const pending = new Map<number, ExpectedReply>();
  /** Expired requests, oldest first (Map keeps insertion order). */
  const late = new Map<number, ExpectedReply>();
  let held: Buffer = Buffer.alloc(0);
  let violation: string | undefined;
  /** The latest exception reply that passed, with the code as the unit sent it. */
  let lastException: { transactionId: number; code: number } | undefined;

  function violate(message: string): void {
    if (violation !== undefined) return;
    violation = message;
    held = Buffer.alloc(0);
    pending.clear();
    late.clear();
    options.onViolation(message);
  }

  function sent(request: Buffer): void {
    if (violation !== undefined) return;
    const expected = expectedReplyTo(request);
    if (expected === undefined) {
      violate(`the client wrote ${request.length} bytes that are not one Modbus TCP request`);
      return;
    }
    late.delete(expected.transactionId);
    pending.set(expected.transactionId, expected);
  }

  function expire(transactionId: number): void {
    const expected = pending.get(transactionId);
    if (expected === undefined || violation !== undefined) return;
    pending.delete(transactionId);
    late.set(transactionId, expected);
    if (late.size > maxLateReplies) {
      const oldest = late.keys().next();
      if (oldest.done !== true) late.delete(oldest.value);
    }
  }

  /** What the frame with this transaction id must answer: a request in flight, or an expired one. */
  function expectationOf(transactionId: number): ExpectedReply | undefined {
    return pending.get(transactionId) ?? late.get(transactionId);
  }

  /** Checks the header (and the function code once there) of the frame at the start of `held`. */
  function headerProblem(): string | undefined {
    const transactionId = held.readUInt16BE(0);
    const expected = expectationOf(transactionId);
    if (expected === undefined) {
      return pending.size === 0
        ? `unit sent a reply (transaction id ${transactionId}) while no request was in flight`
        : `reply with transaction id ${transactionId}, but the request in flight has ${[...pending.keys()].join(", ")}`;
    }
    const protocol = held.readUInt16BE(2);
    if (protocol !== 0) return `reply with MBAP protocol id ${protocol}, not 0 (Modbus)`;
    const length = held.readUInt16BE(4);
    if (length < minMbapLength || length > maxMbapLength) {
      return `reply with MBAP length ${length}, outside ${minMbapLength}..${maxMbapLength}`;
    }
    const unitId = held.readUInt8(6);
    if (unitId !== expected.unitId)
      return `reply from unit id ${unitId}, the request went to ${expected.unitId}`;
    if (held.length < mbapHeaderBytes + 1) return undefined;
    const functionCode = held.readUInt8(7);
    if (functionCode === (expected.functionCode | 0x80)) {
      return length === 3 ? undefined : `exception reply with MBAP length ${length}, not 3`;
    }
    if (functionCode !== expected.functionCode) {
      return `reply with function code ${functionCode} to a request with function code ${expected.functionCode}`;
    }
    if (expected.pduBytes !== undefined && length !== 1 + expected.pduBytes) {
      return `reply to function ${functionCode} with MBAP length ${length}, expected ${1 + expected.pduBytes}`;
    }
    return undefined;
  }

  /** Checks a complete normal reply's PDU against the request (byte count, echo). */
  function pduProblem(pdu: Buffer, expected: ExpectedReply): string | undefined {
    const prefix = pdu.subarray(1, 1 + expected.pduPrefix.length);
    if (prefix.equals(expected.pduPrefix)) return undefined;
    if (expected.functionCode <= 4) {
      return `reply with byte count ${pdu.readUInt8(1)}, the request needs ${expected.pduPrefix.readUInt8(0)}`;
    }
    return `write reply echoes ${prefix.toString("hex")}, the request sent ${expected.pduPrefix.toString("hex")}`;
  }

  function received(chunk: Buffer): void {
    if (violation !== undefined || chunk.length === 0) return;
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    while (violation === undefined && held.length > 0) {
      if (pending.size === 0 && late.size === 0) {
        violate(`unit sent ${held.length} bytes while no request was in flight`);
        return;
      }
      if (held.length < mbapHeaderBytes) break;
      const problem = headerProblem();
      if (problem !== undefined) {
        violate(problem);
        return;
      }
      const size = 6 + held.readUInt16BE(4);
      if (held.length < size) break;
      const frame = held.subarray(0, size);
      const transactionId = frame.readUInt16BE(0);
      const expected = expectationOf(transactionId);
      if (expected === undefined) break; // unreachable: headerProblem checked it
      const pdu = frame.subarray(mbapHeaderBytes);
      const isException = pdu.readUInt8(0) !== expected.functionCode;
      if (!isException) {
        const pduIssue = pduProblem(pdu, expected);
        if (pduIssue !== undefined) {
          violate(pduIssue);
          return;
        }
      }
      const wasLate = !pending.delete(transactionId);
      late.delete(transactionId);
      held = held.length === size ? Buffer.alloc(0) : held.subarray(size);
      if (wasLate) options.onLate?.(Buffer.from(frame), transactionId);
      else options.onFrame(isException ? libraryExceptionFrame(frame, transactionId) : Buffer.from(frame));
    }
    // what remains is one incomplete frame (its header checked once complete): a copy, so that the
    // socket's chunk it was cut from is not kept alive with it
    if (held.length > 0) held = Buffer.from(held);
  }

  /** The exception frame as jsmodbus may see it: a code it can name, the wire's code kept. */
  function libraryExceptionFrame(frame: Buffer, transactionId: number): Buffer {
    const copy = Buffer.from(frame);
    const code = copy.readUInt8(8);
    lastException = { transactionId, code };
    if (!libraryExceptionCodes.has(code)) copy.writeUInt8(standInExceptionCode, 8);
    return copy;
  }

  function exceptionCodeOnWire(transactionId: number): number | undefined {
    return lastException?.transactionId === transactionId ? lastException.code : undefined;
  }

  return {
    sent,
    expire,
    received,
    fail: violate,
    exceptionCodeOnWire,
    get held() {
      return held.length;
    },
    get inFlight() {
      return pending.size;
    },
    get expired() {
      return late.size;
    },
    get violation() {
      return violation;
    },
  };
}
