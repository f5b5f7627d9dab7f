/**
 * A Modbus TCP "unit" the test controls byte by byte: a plain net.Server on 127.0.0.1, port 0.
 * It frames the requests it receives and answers the FIRST request of each connection as the
 * current script says (garbage, truncated, wrong ids, lying lengths, split into 1-byte segments,
 * glued, unsolicited, odd exceptions, …); every later request of that connection gets a valid reply.
 * Valid replies come from a fixed register model (`registerValue`, `coilValue`), so a test knows
 * what a read must return. `forwardTo(port)` turns it into a pipe to a real unit (the PEMEL
 * simulator), so the same link can be shown a well-behaved unit again; with `corrupt` it is a
 * man in the middle that replaces chosen replies of the real unit on their way back.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** How the first request of a connection is answered. */
export type HostileReply =
  | { kind: "valid" }
  | { kind: "random-bytes"; bytes: Uint8Array }
  /** The valid reply cut short: 1 + keep % (length − 1) bytes stay (below 7 the MBAP header is cut). */
  | { kind: "truncated"; keep: number }
  | { kind: "wrong-transaction-id"; delta: number }
  | { kind: "wrong-unit-id"; unitId: number }
  | { kind: "wrong-protocol-id"; protocol: number }
  | { kind: "wrong-function-code"; functionCode: number }
  /** The MBAP length field replaced (by anything but the true length: 0..65535). */
  | { kind: "length-field"; length: number }
  /** A byte of the PDU after the function code xor-ed: a read's byte count, a write's echo. */
  | { kind: "pdu-field"; index: number; xor: number }
  /** A self-consistent reply for `count + delta` registers/bits instead of `count` (reads). */
  | { kind: "wrong-count"; delta: number }
  | { kind: "one-byte-segments" }
  /** The valid reply and a second one in the same write: the same again, or for the next id. */
  | { kind: "glued"; second: "duplicate" | "next-id" }
  /** A reply to a request never sent, written as soon as the connection opens. */
  | { kind: "unsolicited" }
  /** An exception reply (function code + 0x80) with this code, known or not. */
  | { kind: "exception"; code: number }
  /** An MBAP header claiming 65 535 bytes, then `junkBytes` of junk. */
  | { kind: "oversized-flood"; junkBytes: number };

export interface ModbusRequestFrame {
  transactionId: number;
  unitId: number;
  functionCode: number;
  address: number;
  /** Registers or bits asked for (reads), or written (15, 16); 1 for 5 and 6. */
  quantity: number;
  /** The PDU bytes after the function code. */
  fields: Buffer;
}

export interface HostilePeer {
  readonly port: number;
  /** Script for the first request of every connection opened from now on. */
  answerWith(reply: HostileReply): void;
  /**
   * From now on, new connections are piped to this port on 127.0.0.1 (a well-behaved unit). Each
   * reply the unit sends is first shown to `corrupt`: when it returns a hostile reply, that goes
   * back instead (built on the unit's genuine reply where the kind allows).
   */
  forwardTo(port: number, corrupt?: (request: ModbusRequestFrame) => HostileReply | undefined): void;
  /** Requests received, in order (the newest 1000). */
  readonly requests: readonly ModbusRequestFrame[];
  /** Replies written by the script (the first request of a connection). */
  readonly scriptedReplies: number;
  readonly connections: number;
  stop(): Promise<void>;
}

/** The register model behind valid replies: a fixed, address-dependent word. */
export function registerValue(address: number): number {
  return (address * 40_503 + 12_345) & 0xffff;
}

export function coilValue(address: number): boolean {
  return address % 3 === 0;
}

export async function startHostilePeer(): Promise<HostilePeer> {
  let script: HostileReply = { kind: "valid" };
  let forward:
    | { port: number; corrupt?: (request: ModbusRequestFrame) => HostileReply | undefined }
    | undefined;
  const requests: ModbusRequestFrame[] = [];
  const sockets = new Set<Socket>();
  let scriptedReplies = 0;
  let connections = 0;

  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // the link destroys its socket on the first byte it distrusts: our writes then fail
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    if (forward !== undefined) {
      relay(socket, forward.port, sockets, forward.corrupt);
      return;
    }
    serve(socket, script);
  });

  function serve(socket: Socket, reply: HostileReply): void {
    let first = true;
    let pending = Buffer.alloc(0);
    if (reply.kind === "unsolicited") {
      const stray: ModbusRequestFrame = {
        transactionId: 0x7777,
        unitId: 0,
        functionCode: 3,
        address: 0x8006,
        quantity: 1,
        fields: Buffer.from([0x80, 0x06, 0, 1]),
      };
      socket.write(validReply(stray));
    }
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
        const size = 6 + pending.readUInt16BE(4);
        const request = parseRequest(pending.subarray(0, size));
        pending = pending.subarray(size);
        if (request === undefined) continue;
        requests.push(request);
        if (requests.length > 1000) requests.shift();
        if (first && reply.kind !== "unsolicited") {
          first = false;
          scriptedReplies++;
          void answer(socket, request, reply);
        } else {
          first = false;
          socket.write(validReply(request));
        }
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;

  return {
    port,
    answerWith: (reply) => {
      script = reply;
      forward = undefined;
    },
    forwardTo: (port, corrupt) => {
      forward = corrupt === undefined ? { port } : { port, corrupt };
    },
    get requests() {
      return requests;
    },
    get scriptedReplies() {
      return scriptedReplies;
    },
    get connections() {
      return connections;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Splits a byte stream into MBAP frames (by their length field). */
function mbapFramer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
      const size = 6 + pending.readUInt16BE(4);
      const frame = Buffer.from(pending.subarray(0, size));
      pending = pending.subarray(size);
      onFrame(frame);
    }
  };
}

function relay(
  client: Socket,
  port: number,
  sockets: Set<Socket>,
  corrupt?: (request: ModbusRequestFrame) => HostileReply | undefined,
): void {
  const upstream = createConnection({ host: "127.0.0.1", port });
  sockets.add(upstream);
  upstream.setNoDelay(true);
  upstream.on("close", () => {
    sockets.delete(upstream);
    client.destroy();
  });
  upstream.on("error", () => upstream.destroy());
  client.on("close", () => upstream.destroy());
  if (corrupt === undefined) {
    client.pipe(upstream);
    upstream.pipe(client);
    return;
  }
  const asked = new Map<number, ModbusRequestFrame>();
  client.on(
    "data",
    mbapFramer((frame) => {
      const request = parseRequest(frame);
      if (request !== undefined) asked.set(request.transactionId, request);
      upstream.write(frame);
    }),
  );
  upstream.on(
    "data",
    mbapFramer((frame) => {
      const request = asked.get(frame.readUInt16BE(0));
      asked.delete(frame.readUInt16BE(0));
      const reply = request === undefined ? undefined : corrupt(request);
      if (request === undefined || reply === undefined) {
        client.write(frame);
        return;
      }
      void send(client, hostileBytes(request, reply, frame));
    }),
  );
}

export function parseRequest(frame: Buffer): ModbusRequestFrame | undefined {
  if (frame.length < 8) return undefined;
  const functionCode = frame.readUInt8(7);
  const fields = Buffer.from(frame.subarray(8));
  const address = fields.length >= 2 ? fields.readUInt16BE(0) : 0;
  const quantity =
    [1, 2, 3, 4, 15, 16].includes(functionCode) && fields.length >= 4 ? fields.readUInt16BE(2) : 1;
  return {
    transactionId: frame.readUInt16BE(0),
    unitId: frame.readUInt8(6),
    functionCode,
    address,
    quantity,
    fields,
  };
}

/** MBAP header + PDU; `length` overrides the length field. */
export function mbapFrame(
  transactionId: number,
  unitId: number,
  pdu: Buffer,
  options: { protocol?: number; length?: number } = {},
): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt16BE(transactionId & 0xffff, 0);
  header.writeUInt16BE(options.protocol ?? 0, 2);
  header.writeUInt16BE(options.length ?? pdu.length + 1, 4);
  header.writeUInt8(unitId, 6);
  return Buffer.concat([header, pdu]);
}

/** The PDU of a correct normal reply, for `quantity` registers/bits (default: what was asked). */
export function validReplyPdu(request: ModbusRequestFrame, quantity = request.quantity): Buffer {
  const fc = request.functionCode;
  if (fc === 1 || fc === 2) {
    const bytes = Buffer.alloc(Math.ceil(quantity / 8));
    for (let i = 0; i < quantity; i++) {
      if (coilValue(request.address + i)) bytes[i >> 3] = (bytes[i >> 3] ?? 0) | (1 << (i & 7));
    }
    return Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
  }
  if (fc === 3 || fc === 4) {
    const words = Buffer.alloc(quantity * 2);
    for (let i = 0; i < quantity; i++)
      words.writeUInt16BE(registerValue((request.address + i) & 0xffff), i * 2);
    return Buffer.concat([Buffer.from([fc, words.length]), words]);
  }
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) {
    return Buffer.concat([Buffer.from([fc]), request.fields.subarray(0, 4)]);
  }
  return Buffer.from([fc | 0x80, 1]);
}

export function isRead(request: ModbusRequestFrame): boolean {
  return request.functionCode >= 1 && request.functionCode <= 4;
}

export function validReply(request: ModbusRequestFrame): Buffer {
  return mbapFrame(request.transactionId, request.unitId, validReplyPdu(request));
}

/**
 * The bytes the script writes for `request`, as one buffer or as separate segments, built on the
 * `genuine` reply (default: the register model's valid reply).
 */
export function hostileBytes(
  request: ModbusRequestFrame,
  reply: HostileReply,
  genuine: Buffer = validReply(request),
): Buffer[] {
  const good = genuine;
  const { transactionId: id, unitId } = request;
  const pdu = good.subarray(7);
  switch (reply.kind) {
    case "valid":
      return [good];
    case "random-bytes":
      return [Buffer.from(reply.bytes)];
    case "truncated":
      return [good.subarray(0, 1 + (reply.keep % (good.length - 1)))];
    case "wrong-transaction-id":
      return [mbapFrame(id + reply.delta, unitId, pdu)];
    case "wrong-unit-id":
      return [mbapFrame(id, reply.unitId, pdu)];
    case "wrong-protocol-id":
      return [mbapFrame(id, unitId, pdu, { protocol: reply.protocol })];
    case "wrong-function-code": {
      // never the request's own code nor its exception code (those are no error)
      const fc = request.functionCode;
      const code =
        reply.functionCode === fc || reply.functionCode === (fc | 0x80)
          ? reply.functionCode + 1
          : reply.functionCode;
      return [mbapFrame(id, unitId, Buffer.concat([Buffer.from([code & 0xff]), pdu.subarray(1)]))];
    }
    case "length-field": {
      const length = reply.length === pdu.length + 1 ? reply.length + 1 : reply.length;
      return [mbapFrame(id, unitId, pdu, { length })];
    }
    case "pdu-field": {
      // a read's byte count (its data bytes would only be other values), or a write's echo
      const changed = Buffer.from(pdu);
      const index = isRead(request) ? 1 : 1 + (reply.index % 4);
      changed[index] = (changed[index] ?? 0) ^ reply.xor;
      return [mbapFrame(id, unitId, changed)];
    }
    case "wrong-count": {
      if (!isRead(request)) {
        // a write: the echo names another quantity (15, 16) or value (5, 6)
        const changed = Buffer.from(pdu);
        changed[4] = (changed[4] ?? 0) ^ (reply.delta & 0xff || 1);
        return [mbapFrame(id, unitId, changed)];
      }
      // bits come in whole bytes: a count that changes the byte count
      const step = request.functionCode <= 2 ? 8 : 1;
      const quantity = Math.max(0, request.quantity + step * reply.delta);
      return [mbapFrame(id, unitId, validReplyPdu(request, quantity))];
    }
    case "one-byte-segments":
      return [...good].map((byte) => Buffer.from([byte]));
    case "glued": {
      const second = reply.second === "duplicate" ? good : mbapFrame(id + 1, unitId, pdu);
      return [Buffer.concat([good, second])];
    }
    case "unsolicited":
      return [good];
    case "exception":
      return [mbapFrame(id, unitId, Buffer.from([request.functionCode | 0x80, reply.code]))];
    case "oversized-flood": {
      const header = mbapFrame(id, unitId, pdu, { length: 0xffff });
      return [Buffer.concat([header, Buffer.alloc(reply.junkBytes, 0xa5)])];
    }
  }
}

function answer(socket: Socket, request: ModbusRequestFrame, reply: HostileReply): Promise<void> {
  return send(socket, hostileBytes(request, reply));
}

async function send(socket: Socket, segments: Buffer[]): Promise<void> {
  if (segments.length === 1) {
    socket.write(segments[0] ?? Buffer.alloc(0));
    return;
  }
  // one write per segment, each flushed before the next, so the link sees them arrive apart
  for (const segment of segments) {
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => socket.write(segment, () => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
