/**
 * An in-order pipeline of batches: up to `depth` writes in flight at once, each batch settled
 * (acknowledged) strictly in the order it was taken, and only after its own write resolved and
 * every earlier batch was settled. While writes are in flight the next batch is taken (read and
 * built), so the client's work overlaps the server's.
 *
 * On the first failure of a write (it rejects) or of a settle (it throws) no further batch is
 * taken; the writes still in flight are awaited (so nothing runs on after the pipeline returns)
 * but never settled: a batch whose write succeeded after an earlier one failed is not
 * acknowledged, and the caller retries from the first unsettled batch (the writes are
 * idempotent). When `take` throws, no further batch is taken, the batches in flight are settled
 * as usual, and the failure is reported.
 */

export interface PipelineSteps<B, R> {
  /** Most writes in flight at once (1: one after another). */
  depth: number;
  /** The next batch, or undefined when there is none (or no more should be taken). */
  take(): B | undefined;
  write(batch: B): Promise<R>;
  /** Called in order, once per batch whose write resolved, after every earlier batch settled. */
  settle(batch: B, result: R): void | Promise<void>;
}

export interface PipelineOutcome {
  /** Batches settled, in order. */
  settled: number;
  /** Why the pipeline stopped early; absent when `take` ran out. */
  failure?: unknown;
}

type Flight<B, R> = { batch: B; result: Promise<{ ok: true; value: R } | { ok: false; error: unknown }> };

export async function runPipeline<B, R>(steps: PipelineSteps<B, R>): Promise<PipelineOutcome> {
  const depth = Math.max(1, Math.floor(steps.depth));
  const inFlight: Flight<B, R>[] = [];
  let settled = 0;
  let failure: { error: unknown } | undefined;
  let takeFailure: { error: unknown } | undefined;
  let exhausted = false;

  const launch = (): boolean => {
    let batch: B | undefined;
    try {
      batch = steps.take();
    } catch (error) {
      takeFailure = { error };
      return false;
    }
    if (batch === undefined) return false;
    const result = steps.write(batch).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    inFlight.push({ batch, result });
    return true;
  };

  while (failure === undefined) {
    while (!exhausted && inFlight.length < depth) {
      if (!launch()) exhausted = true;
    }
    const oldest = inFlight.shift();
    if (oldest === undefined) break;
    const outcome = await oldest.result;
    if (!outcome.ok) {
      failure = { error: outcome.error };
      break;
    }
    try {
      await steps.settle(oldest.batch, outcome.value);
      settled++;
    } catch (error) {
      failure = { error };
    }
  }
  // Nothing of this pipeline may still run once it returns; the rest is never settled.
  await Promise.all(inFlight.map((f) => f.result));
  const first = failure ?? takeFailure;
  return first === undefined ? { settled } : { settled, failure: first.error };
}
