/**
 * The sink's writer connections (pg-writer.ts): up to `size` of them, each connected on first use
 * and reused, so that batches written at the same time (the forwarder pipelines them) each have a
 * transaction of their own. A writer is used by one piece of work at a time. `drop()` (after an
 * outage) ends every writer, those in use too: their work rejects, and the next use connects anew.
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import { connectWriter, type WriterConnection, type WriterOptions } from "./pg-writer.ts";

export interface WriterPool {
  /** Runs `work` on a writer of its own; waits while all `size` are in use. */
  use<T>(work: (writer: WriterConnection) => Promise<T>): Promise<T>;
  /** Ends every writer, idle or in use; later uses connect again. */
  drop(): void;
  /** Ends every writer; later uses reject. */
  close(): Promise<void>;
}

export function writerPool(options: WriterOptions & { size: number; name: string }): WriterPool {
  const idle: WriterConnection[] = [];
  const inUse = new Set<WriterConnection>();
  const waiting: (() => void)[] = [];
  /** Writers connected or connecting. */
  let open = 0;
  let generation = 0;
  let closed = false;

  const closedError = () =>
    new PlantbridgeError(ErrorCode.NOT_CONNECTED, `historian ${options.name}: used after close`);

  function wakeOne(): void {
    waiting.shift()?.();
  }

  async function acquire(): Promise<{ writer: WriterConnection; generation: number }> {
    for (;;) {
      if (closed) throw closedError();
      const ready = idle.pop();
      if (ready?.usable) return { writer: ready, generation };
      if (ready !== undefined) {
        open--;
        void ready.end().catch(() => undefined);
        continue;
      }
      if (open < options.size) {
        open++;
        const at = generation;
        try {
          return { writer: await connectWriter(options), generation: at };
        } catch (e) {
          open--;
          wakeOne();
          throw e;
        }
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  }

  function release(writer: WriterConnection, at: number): void {
    inUse.delete(writer);
    if (writer.usable && at === generation && !closed) idle.push(writer);
    else {
      open--;
      void writer.end().catch(() => undefined);
    }
    wakeOne();
  }

  function endAll(): Promise<unknown> {
    generation++;
    const ending = [...idle, ...inUse].map((writer) => writer.end().catch(() => undefined));
    open -= idle.length;
    idle.length = 0;
    // Writers in use are counted until their work settles and releases them.
    return Promise.all(ending);
  }

  return {
    async use(work) {
      const { writer, generation: at } = await acquire();
      if (at !== generation || closed) {
        // Dropped (or closed) while it connected: not ours to keep.
        release(writer, at);
        throw new PlantbridgeError(
          ErrorCode.HISTORIAN_UNAVAILABLE,
          `historian ${options.name}: connection given up`,
        );
      }
      inUse.add(writer);
      try {
        return await work(writer);
      } finally {
        release(writer, at);
      }
    },
    drop() {
      void endAll();
    },
    async close() {
      closed = true;
      for (const wake of waiting.splice(0)) wake();
      await endAll();
    },
  };
}
