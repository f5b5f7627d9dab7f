/**
 * One Modbus transaction in flight per device: requests wait in order. Every transaction is
 * bounded by its own timer; when it fires the transaction rejects with PB_ERR_MODBUS_TIMEOUT and
 * `onTimeout` tells the owner, which considers the socket dead and calls `failAll`.
 * A queue serves one connection: after `failAll` it refuses new work with the same error.
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";

export interface TransactionQueue {
  /** Runs `job` when every earlier job has settled; rejects when it takes longer than the timeout. */
  run<T>(what: string, job: () => Promise<T>): Promise<T>;
  /** Rejects the transaction in flight and all waiting ones; the queue refuses new work from now on. */
  failAll(error: PlantbridgeError): void;
  /** Transactions waiting or in flight. */
  readonly size: number;
}

export interface TransactionQueueOptions {
  timeoutMs: number;
  /** Called once per timed-out transaction, after it was rejected. */
  onTimeout: (error: PlantbridgeError) => void;
  /** Origin put on timeout errors (the unit). */
  unit: string;
}

interface Entry {
  what: string;
  start: () => void;
  fail: (error: PlantbridgeError) => void;
}

export function createTransactionQueue(options: TransactionQueueOptions): TransactionQueue {
  const waiting: Entry[] = [];
  let inFlight: Entry | undefined;
  let failed: PlantbridgeError | undefined;

  function next(): void {
    if (inFlight !== undefined || failed !== undefined) return;
    const entry = waiting.shift();
    if (entry === undefined) return;
    inFlight = entry;
    entry.start();
  }

  function run<T>(what: string, job: () => Promise<T>): Promise<T> {
    if (failed !== undefined) return Promise.reject(failed);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const entry: Entry = {
        what,
        fail: (error) => {
          if (settled) return;
          settled = true;
          if (timer !== undefined) clearTimeout(timer);
          reject(error);
        },
        start: () => {
          timer = setTimeout(() => {
            if (settled) return;
            const error = new PlantbridgeError(
              ErrorCode.MODBUS_TIMEOUT,
              `no reply to ${what} within ${options.timeoutMs} ms`,
              { unit: options.unit },
            );
            entry.fail(error);
            options.onTimeout(error);
          }, options.timeoutMs);
          let promise: Promise<T>;
          try {
            promise = job();
          } catch (e) {
            promise = Promise.reject(e);
          }
          promise.then(
            (value) => {
              if (!settled) {
                settled = true;
                clearTimeout(timer);
                resolve(value);
              }
              if (inFlight === entry) {
                inFlight = undefined;
                next();
              }
            },
            (e: unknown) => {
              if (!settled) {
                settled = true;
                clearTimeout(timer);
                reject(e);
              }
              if (inFlight === entry) {
                inFlight = undefined;
                next();
              }
            },
          );
        },
      };
      waiting.push(entry);
      next();
    });
  }

  function failAll(error: PlantbridgeError): void {
    if (failed === undefined) failed = error;
    const current = inFlight;
    inFlight = undefined;
    current?.fail(error);
    for (const entry of waiting.splice(0)) entry.fail(error);
  }

  return {
    run,
    failAll,
    get size() {
      return waiting.length + (inFlight === undefined ? 0 : 1);
    },
  };
}
