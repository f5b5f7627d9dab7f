/**
 * `plantbridge browse`'s output: the address space as an indented tree, one node per line with its
 * browse name, node id and node class; variables with data type and access levels, and the plant
 * file's tag that reads them. Pure: formats what adapters/opcua/browse.ts found.
 */
import type { BrowsedNode } from "../../adapters/opcua/browse.ts";

/** AccessLevel bits (OPC UA Part 3, 8.57), in the names OPC UA clients show. */
const ACCESS_BITS = [
  [0x01, "CurrentRead"],
  [0x02, "CurrentWrite"],
  [0x04, "HistoryRead"],
  [0x08, "HistoryWrite"],
  [0x10, "SemanticChange"],
  [0x20, "StatusWrite"],
  [0x40, "TimestampWrite"],
] as const;

export function accessLevelText(level: number): string {
  const names = ACCESS_BITS.filter(([bit]) => (level & bit) !== 0).map(([, name]) => name);
  return names.length === 0 ? "None" : names.join("|");
}

function details(node: BrowsedNode, tagsByNode: ReadonlyMap<string, string>): string {
  const parts = [node.nodeId, node.nodeClass];
  if (node.dataType !== undefined) parts.push(node.dataType);
  if (node.accessLevel !== undefined) {
    const access = accessLevelText(node.accessLevel);
    const user = node.userAccessLevel === undefined ? access : accessLevelText(node.userAccessLevel);
    parts.push(user === access ? access : `${access} (this user: ${user})`);
  }
  const tag = tagsByNode.get(node.nodeId);
  if (tag !== undefined) parts.push(`= ${tag}`);
  if (node.repeated) parts.push("(shown above)");
  if (node.hiddenChildren > 0) parts.push(`(+${node.hiddenChildren} below, use --depth)`);
  return parts.join("  ");
}

/** The tree as lines: `├─ name  node id  class  type  access  = UNIT.tag`. */
export function browseTree(root: BrowsedNode, tagsByNode: ReadonlyMap<string, string> = new Map()): string[] {
  const lines = [`${root.browseName}  ${details(root, tagsByNode)}`];
  const walk = (node: BrowsedNode, prefix: string) => {
    node.children.forEach((child, i) => {
      const last = i === node.children.length - 1;
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${child.browseName}  ${details(child, tagsByNode)}`);
      walk(child, `${prefix}${last ? "   " : "│  "}`);
    });
  };
  walk(root, "");
  return lines;
}
