/**
 * Every state change of every machine actor of the plant, in the order they happen, from XState's
 * inspection events (`createActor(plantMachine, { inspect })`). A snapshot that changes only the
 * context is not a state change; a change of status (active → done, error) is. Only the actor id,
 * its machine, the state value, the status and the event's type leave — never a context.
 */
import type { InspectionEvent } from "xstate";

export interface StateChange {
  /** 1, 2, 3, … in the order the changes happened. */
  seq: number;
  /** Epoch ms (wall clock) when the change was seen. */
  at: number;
  /** `plant`, `unit:PEMEL`, `loop:NAME`, `storage`, `forwarder:postgres`. */
  actor: string;
  /** The machine definition's id: plant, connection, control, storage, forwarder. */
  machine: string;
  value: unknown;
  status: string;
  /** The type of the event that caused the change. */
  event: string;
}

export interface StateFeed {
  /** Pass to `createActor(…, { inspect })` (alone or next to another inspector). */
  inspect(event: InspectionEvent): void;
  /** Calls `listener` with each change from now on, in order; returns the unsubscribe. */
  subscribe(listener: (change: StateChange) => void): () => void;
  /** The sequence number of the last change (0: none yet). */
  lastSeq(): number;
}

interface MachineLogic {
  id: string;
  root: unknown;
}

function machineOf(actorRef: unknown): string | undefined {
  const logic = (actorRef as { logic?: Partial<MachineLogic> }).logic;
  return logic !== undefined && logic.root !== undefined && typeof logic.id === "string"
    ? logic.id
    : undefined;
}

export function createStateFeed(wall: () => number = Date.now): StateFeed {
  const listeners = new Set<(change: StateChange) => void>();
  const last = new Map<string, string>();
  let seq = 0;
  return {
    inspect(event) {
      if (event.type !== "@xstate.snapshot") return;
      const machine = machineOf(event.actorRef);
      if (machine === undefined) return;
      const snapshot = event.snapshot as { value?: unknown; status?: string };
      const key = `${snapshot.status}|${JSON.stringify(snapshot.value)}`;
      const sessionId = event.actorRef.sessionId;
      if (last.get(sessionId) === key) return;
      last.set(sessionId, key);
      if (snapshot.status !== "active") last.delete(sessionId);
      seq += 1;
      const change: StateChange = {
        seq,
        at: wall(),
        actor: sessionId === event.rootId ? "plant" : ((event.actorRef as { id?: string }).id ?? sessionId),
        machine,
        value: snapshot.value ?? null,
        status: snapshot.status ?? "active",
        event: event.event.type,
      };
      for (const listener of [...listeners]) listener(change);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    lastSeq: () => seq,
  };
}

/** One inspect function for several observers (the Stately inspector and the status feed run together). */
export function fanOutInspection(
  ...observers: ReadonlyArray<
    ((event: InspectionEvent) => void) | { next?: (event: InspectionEvent) => void }
  >
): (event: InspectionEvent) => void {
  return (event) => {
    for (const o of observers) {
      if (typeof o === "function") o(event);
      else o.next?.(event);
    }
  };
}
