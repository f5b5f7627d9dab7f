/**
 * Restarts of the plant's children: a child that failed is spawned again after a backoff that
 * grows with its restarts; a child that failed `childRestartLimit` times within
 * `childRestartWindowMs` is not restarted again: the plant ends (fatal) so that the process exits
 * non-zero after a clean flush and its supervisor starts it afresh. Pure, on the monotonic clock.
 */
import { backoffDelay } from "./backoff.ts";
import type { PlantContext } from "./plant-context.ts";

export function childFailure(
  context: PlantContext,
  id: string,
  reason: string,
  now: number,
): Pick<PlantContext, "restarts" | "fatal"> {
  const before = context.restarts[id];
  const failures = [...(before?.failures ?? []).filter((t) => now - t < context.childRestartWindowMs), now];
  const restarts = { ...context.restarts, [id]: { failures, restarts: (before?.restarts ?? 0) + 1 } };
  const fatal =
    failures.length >= context.childRestartLimit
      ? `${id} failed ${failures.length} times within ${Math.round(context.childRestartWindowMs / 1000)} s (last: ${reason}): the plant stops so that its supervisor restarts the process`
      : context.fatal;
  return { restarts, fatal };
}

/** How long to wait before spawning the child again. */
export function restartDelay(context: PlantContext, id: string): number {
  // Deterministic (no jitter): restarts are rare and one child at a time.
  return backoffDelay(context.restarts[id]?.restarts ?? 1, context.childRestart, () => 0);
}
