import type { AnyStateMachine } from "xstate";
import { type GraphState, type MachineGraph, machineGraph } from "../../machines/machine-graph.ts";

/** Transitions declared on the machine itself apply in every state: they start from this pseudo-state. */
const anyState = "any_state";

function nodeName(path: readonly string[]): string {
  return path.length === 0 ? anyState : path.join("_");
}

function describeNode(node: GraphState, lines: string[]): void {
  const isRoot = node.path.length === 0;
  const name = nodeName(node.path);
  const compound = !isRoot && node.children.length > 0;
  if (compound) lines.push(`  state ${name} {`);
  if (node.initial) lines.push(`  [*] --> ${nodeName(node.initial)}`);
  for (const child of node.children) describeNode(child, lines);
  if (compound) lines.push("  }");
  if (node.type === "final" && !isRoot) lines.push(`  ${name} --> [*]`);
  if (!isRoot) for (const src of node.invokes) lines.push(`  ${name} : invoke ${src}`);
  for (const t of node.transitions) {
    const guard = t.guard === undefined ? "" : ` [${t.guard}]`;
    for (const target of t.targets) lines.push(`  ${name} --> ${nodeName(target)} : ${t.event}${guard}`);
  }
}

/** A Mermaid `stateDiagram-v2` of a machine graph: states, initial states, transitions with guards, invokes. */
export function graphToMermaid(graph: MachineGraph): string {
  const lines = ["stateDiagram-v2"];
  if (graph.root.transitions.length > 0) lines.push(`  state "any state" as ${anyState}`);
  describeNode(graph.root, lines);
  return `${lines.join("\n")}\n`;
}

/** A Mermaid `stateDiagram-v2` of a machine's definition. */
export function toMermaid(machine: AnyStateMachine): string {
  return graphToMermaid(machineGraph(machine));
}
