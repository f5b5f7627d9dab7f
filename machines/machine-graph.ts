/**
 * A machine definition as plain data: its states (nested), initial states, invokes and
 * transitions with their events and guards. One source for every drawing of a machine:
 * `plantbridge diagrams` renders it as Mermaid text (bin/runtime/mermaid.ts), the status page
 * draws it as SVG and highlights the live actors' states on it (status/page/diagrams.js).
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate";

export interface GraphTransition {
  /** Readable event: `CONNECT`, `after backoff`, `done connectLink`, `error connectLink`, `always`. */
  event: string;
  /** The guard's name, when the transition has one. */
  guard?: string;
  /** Target state paths (empty: a transition that only runs actions). */
  targets: string[][];
}

export interface GraphState {
  /** Path from the machine's root: `["faulted", "waiting"]`; `[]` for the root itself. */
  path: string[];
  key: string;
  type: "atomic" | "compound" | "parallel" | "final" | "history";
  /** Path of the initial child, for compound states. */
  initial?: string[];
  /** Sources of the actors invoked while in this state. */
  invokes: string[];
  transitions: GraphTransition[];
  children: GraphState[];
}

export interface MachineGraph {
  /** The machine's id (`connection`, `control`, …): live actors name it as their logic's id. */
  id: string;
  /** The root node; its transitions apply in any state. */
  root: GraphState;
}

/** Readable label of an XState event type: after-delays, invoke results and plain events. */
export function eventLabel(eventType: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  const done = /^xstate\.done\.actor\.(.+)$/.exec(eventType);
  if (done) return `done ${done[1]}`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(eventType);
  if (error) return `error ${error[1]}`;
  if (eventType === "") return "always";
  return eventType;
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === "string") return guard;
  if (typeof guard === "object" && guard !== null && "type" in guard) return String(guard.type);
  return "guard";
}

function describeNode(node: AnyStateNode): GraphState {
  const children = (Object.values(node.states) as AnyStateNode[]).map(describeNode);
  const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
  const invokes = node.invoke.map((invoke) => (typeof invoke.src === "string" ? invoke.src : invoke.id));
  const eventless: readonly AnyTransitionDefinition[] = node.always ?? [];
  const transitions: GraphTransition[] = [];
  for (const list of [...node.transitions.values(), eventless]) {
    for (const t of list) {
      const guard = guardName(t.guard);
      transitions.push({
        event: eventLabel(String(t.eventType)),
        ...(guard !== undefined ? { guard } : {}),
        targets: ((t.target ?? []) as AnyStateNode[]).map((target) => [...target.path]),
      });
    }
  }
  return {
    path: [...node.path],
    key: node.key,
    type: node.type,
    ...(initial ? { initial: [...initial.path] } : {}),
    invokes,
    transitions,
    children,
  };
}

/** The machine's definition as plain, JSON-serialisable data. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  return { id: machine.id, root: describeNode(machine.root) };
}
