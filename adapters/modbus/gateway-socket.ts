/**
 * Opening the one TCP socket of a Modbus gateway, bounded by `timeoutMs`. Once connected the socket
 * is handed to `onConnected` in the same turn (so the wire hears every byte and every close), and
 * the promise resolves with what it made.
 */
import { Socket } from "node:net";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";

export interface GatewayAddress {
  host: string;
  port: number;
  /** `host:port`, for messages. */
  address: string;
}

export function openGatewaySocket<T>(
  target: GatewayAddress,
  timeoutMs: number,
  onConnected: (socket: Socket) => T,
): Promise<T> {
  const { host, port, address } = target;
  return new Promise<T>((resolve, reject) => {
    const socket = new Socket();
    let lastError: string | undefined;
    const onError = (e: Error) => {
      lastError = errorMessage(e);
    };
    socket.on("error", onError);
    const fail = (code: ErrorCode, message: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new PlantbridgeError(code, message));
    };
    const timer = setTimeout(
      () => fail(ErrorCode.MODBUS_TIMEOUT, `no connection to ${address} within ${timeoutMs} ms`),
      timeoutMs,
    );
    const onClose = () =>
      fail(ErrorCode.MODBUS_OFFLINE, `cannot connect to ${address}: ${lastError ?? "connection closed"}`);
    socket.once("close", onClose);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("close", onClose);
      resolve(onConnected(socket));
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, Math.max(1000, timeoutMs));
    try {
      socket.connect({ host, port });
    } catch (e) {
      // e.g. a port outside 0..65535
      process.nextTick(() =>
        fail(ErrorCode.MODBUS_OFFLINE, `cannot connect to ${address}: ${errorMessage(e)}`),
      );
    }
  });
}
