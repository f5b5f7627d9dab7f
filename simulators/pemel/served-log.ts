/**
 * What the PEMEL simulator served, for tests and the sim summary: every read, every register write
 * and every set point write. Counts are exact; the lists keep the newest entries up to a cap.
 */
import type { ModbusArea } from "../../schemas/plant-types.ts";

export interface ServedRead {
  time: number;
  area: ModbusArea;
  address: number;
  count: number;
  /** Registers (words) or coils/discretes (0/1) as served. */
  values: number[];
}

/** A write of the stack current set point (0x8006). */
export interface ServedWrite {
  time: number;
  address: number;
  /** The set point written, A (register value). */
  value: number;
}

/** Any write request the simulator carried out (set point included). */
export interface ServedRegisterWrite {
  time: number;
  area: "holding" | "coil";
  address: number;
  values: number[];
}

export interface ServedLog {
  readonly reads: readonly ServedRead[];
  readonly writes: readonly ServedWrite[];
  readonly registerWrites: readonly ServedRegisterWrite[];
  /** Exact counts, never capped. */
  readonly readCount: number;
  readonly writeCount: number;
  readonly registerWriteCount: number;
  /** Exception replies sent (faults, limits, unit id). */
  readonly exceptionCount: number;
  /** Requests received and never answered (stop-answering). */
  readonly unansweredCount: number;
}

export interface ServedLogRecorder extends ServedLog {
  read(entry: ServedRead): void;
  write(entry: ServedWrite): void;
  registerWrite(entry: ServedRegisterWrite): void;
  exception(): void;
  unanswered(): void;
  clear(): void;
}

export const defaultServedLogCap = 100_000;

export function createServedLog(cap = defaultServedLogCap): ServedLogRecorder {
  const reads: ServedRead[] = [];
  const writes: ServedWrite[] = [];
  const registerWrites: ServedRegisterWrite[] = [];
  const counts = { read: 0, write: 0, registerWrite: 0, exception: 0, unanswered: 0 };
  // Drop the oldest tenth at once when over the cap, so appends stay cheap.
  const push = <T>(list: T[], entry: T) => {
    list.push(entry);
    if (list.length > cap) list.splice(0, Math.max(1, list.length - cap + Math.floor(cap / 10)));
  };
  return {
    reads,
    writes,
    registerWrites,
    get readCount() {
      return counts.read;
    },
    get writeCount() {
      return counts.write;
    },
    get registerWriteCount() {
      return counts.registerWrite;
    },
    get exceptionCount() {
      return counts.exception;
    },
    get unansweredCount() {
      return counts.unanswered;
    },
    read(entry) {
      counts.read++;
      push(reads, entry);
    },
    write(entry) {
      counts.write++;
      push(writes, entry);
    },
    registerWrite(entry) {
      counts.registerWrite++;
      push(registerWrites, entry);
    },
    exception() {
      counts.exception++;
    },
    unanswered() {
      counts.unanswered++;
    },
    clear() {
      reads.length = 0;
      writes.length = 0;
      registerWrites.length = 0;
      counts.read = counts.write = counts.registerWrite = counts.exception = counts.unanswered = 0;
    },
  };
}
