/**
 * The socket jsmodbus gets: a stand-in that passes its requests to the real socket and hands it
 * only the replies the frame guard let through. jsmodbus uses four things of its socket — `on("data")`,
 * `on("connect")`, `on("close")` and `write(payload, callback)` — so the stand-in is an EventEmitter
 * with `write`; `connect` and `close` of the real socket are passed on as they happen.
 *
 * Whatever jsmodbus throws while it handles a reply (it should not, once guarded) is caught here
 * and reported as a violation, never left to become an uncaught exception.
 */
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { errorMessage } from "../../lib/errors.ts";
import { createFrameGuard, type FrameGuard } from "./frame-guard.ts";
import { modbusExceptionCode } from "./library-errors.ts";

export interface GuardedSocket {
  /** Give this to `new ModbusTCPClient(...)` instead of the real socket. */
  readonly forLibrary: Socket;
  readonly guard: FrameGuard;
  /**
   * The exception code of a jsmodbus `ModbusException` rejection as the unit sent it (jsmodbus may
   * have been shown a stand-in code); undefined for any other rejection.
   */
  exceptionCode(e: unknown): number | undefined;
}

/** Calls `onViolation` once, with a message, when the unit sends bytes that answer no request. */
export function guardSocket(socket: Socket, onViolation: (message: string) => void): GuardedSocket {
  const libraryEnd = new EventEmitter();
  const guard: FrameGuard = createFrameGuard({
    onFrame: (frame) => {
      try {
        libraryEnd.emit("data", frame);
      } catch (e) {
        guard.fail(`the Modbus library failed on a reply: ${errorMessage(e)}`);
      }
    },
    onViolation,
  });
  const write = (payload: Buffer, callback?: (error?: Error | null) => void): boolean => {
    guard.sent(payload);
    return socket.write(payload, callback);
  };
  Object.assign(libraryEnd, { write });
  // listeners in this order: jsmodbus learns of connect and close before the link's own listeners run
  socket.on("connect", () => libraryEnd.emit("connect"));
  socket.on("close", (hadError: boolean) => libraryEnd.emit("close", hadError));
  socket.on("data", (chunk: Buffer) => guard.received(chunk));

  function exceptionCode(e: unknown): number | undefined {
    const code = modbusExceptionCode(e);
    if (code === undefined) return undefined;
    return guard.exceptionCodeOnWire(transactionIdOf(e) ?? -1) ?? code;
  }

  return {
    // jsmodbus's constructor is typed for a net.Socket but uses only the members above
    forLibrary: libraryEnd as unknown as Socket,
    guard,
    exceptionCode,
  };
}

/** The transaction id of the reply a jsmodbus rejection carries (`response.id`). */
function transactionIdOf(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null || !("response" in e)) return undefined;
  const response: unknown = e.response;
  if (typeof response !== "object" || response === null || !("id" in response)) return undefined;
  return typeof response.id === "number" ? response.id : undefined;
}
