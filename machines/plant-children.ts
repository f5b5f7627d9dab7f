/**
 * How the plant looks at its children: whether one still runs, which connection generation a
 * unit is on, the image a unit's push machine holds, and the actor that closes the historian
 * sinks at the end of a shutdown.
 */
import { type AnyActorRef, fromPromise } from "xstate";
import type { HistorianSink } from "../adapters/types.ts";
import type { PlantContext, PlantLookups } from "./plant-context.ts";
import { actorIds } from "./plant-wiring.ts";
import type { PushContext } from "./push.machine.ts";

type Running = { getSnapshot(): { status: string } };

export const isActive = (actor: Running) => actor.getSnapshot().status === "active";
export const allFinished = (actors: Record<string, Running>) =>
  Object.values(actors).every((a) => !isActive(a));

/** The unit's connection generation while it is connected, else undefined. */
export function connectedGeneration(context: PlantContext, unit: string): number | undefined {
  const snapshot = context.units[unit]?.getSnapshot();
  if (snapshot === undefined || snapshot.status !== "active" || snapshot.value !== "connected")
    return undefined;
  return snapshot.context.connects;
}

/**
 * What the tag I/O asks of the running plant (`plant` is the plant actor itself): a unit's
 * connection generation, the image its push machine holds, and a way to report a link failure.
 */
export function plantLookups(plant: AnyActorRef): PlantLookups {
  const current = () => plant.getSnapshot().context as PlantContext;
  return {
    connection: (unit) => connectedGeneration(current(), unit),
    pushed: (unit) => {
      const child = plant.getSnapshot().children[actorIds.subscription(unit)] as AnyActorRef | undefined;
      const snapshot = child?.getSnapshot();
      return snapshot?.status === "active" ? (snapshot.context as PushContext) : undefined;
    },
    reportLinkFailure: (unit, error) => plant.send({ type: "LINK_FAILURE", unit, error }),
  };
}

/** The child an `xstate.error.actor.<id>` event is about, and its error. */
export const failedChild = ({ event }: { event: { type: string; error?: unknown } }) => ({
  id: event.type.slice("xstate.error.actor.".length),
  error: event.error,
});

/** Closes every historian sink; fails with the first failure once all have settled. */
export const closeSinks = fromPromise<void, readonly HistorianSink[]>(async ({ input }) => {
  const results = await Promise.allSettled(input.map((sink) => sink.close()));
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;
});
