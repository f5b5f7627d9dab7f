/**
 * What the plant machine logs: a child's failure (restarted with backoff, or fatal), a restart,
 * the steps of a shutdown and its end. Each reads the context; none changes it.
 */
import { errorMessage } from "../lib/errors.ts";
import type { PlantContext } from "./plant-context.ts";

/** A child failed while the plant runs: it is restarted after `delay` ms, or the plant ends (`fatal`). */
export function logChildFailed(
  context: PlantContext,
  failure: { id: string; reason: string; failures: number; fatal: string | null; delay: number },
): void {
  const { id, reason, failures, fatal } = failure;
  const fields = { plant: context.plant.name, actor: id, reason, failures };
  if (fatal !== null) context.deps.log.fatal(fields, `${id} failed: ${reason}. ${fatal}`);
  else context.deps.log.error(fields, `${id} failed: ${reason}; restarting it in ${failure.delay} ms`);
}

export function logChildRestarted(context: PlantContext, id: string): void {
  context.deps.log.info({ actor: id }, `${id} restarted`);
}

export function logChildFailureWhileStopping(context: PlantContext, id: string, error: unknown): void {
  context.deps.log.error(
    { plant: context.plant.name, actor: id, reason: errorMessage(error) },
    `${id} failed while the plant stops: ${errorMessage(error)}`,
  );
}

export function logShutdown(context: PlantContext): void {
  context.deps.log.info({ plant: context.plant.name }, "plant shutting down");
}

export function logStep(context: PlantContext, step: string): void {
  context.deps.log.info({ plant: context.plant.name }, `shutdown: ${step}`);
}

export function logGraceExpired(context: PlantContext, waitingFor: string): void {
  context.deps.log.warn({ plant: context.plant.name }, `shutdown: gave up waiting for ${waitingFor}`);
}

export function logSinkCloseFailure(context: PlantContext, error: unknown): void {
  context.deps.log.error(
    { plant: context.plant.name, reason: errorMessage(error) },
    `closing the historian sinks failed: ${errorMessage(error)}`,
  );
}

export function logStopped(context: PlantContext): void {
  context.deps.log.info({ plant: context.plant.name, fatal: context.fatal }, "plant machine stopped");
}
