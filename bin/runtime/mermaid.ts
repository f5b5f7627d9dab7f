import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate";

/** Readable label of an XState event type: after-delays, invoke results and plain events. */
function eventLabel(eventType: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  const done = /^xstate\.done\.actor\.(.+)$/.exec(eventType);
  if (done) return `done ${done[1]}`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(eventType);
  if (error) return `error ${error[1]}`;
  if (eventType === "") return "always";
  return eventType;
}

function guardLabel(guard: unknown): string {
  if (guard === undefined) return "";
  if (typeof guard === "string") return ` [${guard}]`;
  if (typeof guard === "object" && guard !== null && "type" in guard) return ` [${String(guard.type)}]`;
  return " [guard]";
}

/** Transitions declared on the machine itself apply in every state: they start from this pseudo-state. */
const anyState = "any_state";

function nodeName(node: AnyStateNode, root: AnyStateNode): string {
  return node === root ? anyState : node.path.join("_") || node.key;
}

function describeNode(node: AnyStateNode, root: AnyStateNode, lines: string[]): void {
  const children = Object.values(node.states) as AnyStateNode[];
  const name = nodeName(node, root);
  const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
  if (node !== root && children.length > 0) lines.push(`  state ${name} {`);
  if (initial) lines.push(`  [*] --> ${nodeName(initial, root)}`);
  for (const child of children) describeNode(child, root, lines);
  if (node !== root && children.length > 0) lines.push("  }");
  if (node.type === "final" && node !== root) lines.push(`  ${name} --> [*]`);
  for (const invoke of node.invoke) {
    if (node !== root)
      lines.push(`  ${name} : invoke ${typeof invoke.src === "string" ? invoke.src : invoke.id}`);
  }
  const eventless: readonly AnyTransitionDefinition[] = node.always ?? [];
  for (const transitions of [...node.transitions.values(), eventless]) {
    for (const t of transitions) {
      const targets = (t.target ?? []) as AnyStateNode[];
      for (const target of targets) {
        lines.push(
          `  ${name} --> ${nodeName(target, root)} : ${eventLabel(String(t.eventType))}${guardLabel(t.guard)}`,
        );
      }
    }
  }
}

/** A Mermaid `stateDiagram-v2` of a machine's definition: states, initial states, transitions with guards, invokes. */
export function toMermaid(machine: AnyStateMachine): string {
  const lines = ["stateDiagram-v2"];
  if (machine.root.transitions.size > 0) lines.push(`  state "any state" as ${anyState}`);
  describeNode(machine.root, machine.root, lines);
  return `${lines.join("\n")}\n`;
}
