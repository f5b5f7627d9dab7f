/**
 * A tag's node id, as the plant file gives it, turned into a node-opcua NodeId:
 * `ns=7;s=::AsGlobalPV:real_h2_flowrate` as it is, or `nsu=urn:…;s=…` through the
 * server's namespace array (read after each connect: indexes may differ between servers).
 */
import { type NodeId, resolveNodeId } from "node-opcua-client";

export type NodeIdResolution = { ok: true; nodeId: NodeId } | { ok: false; reason: string };

/** `nsu=<uri>;<i|s|g|b>=<identifier>`; the URI ends at the first `;x=`. */
const NAMESPACE_URI_FORM = /^nsu=(.+?);([isgb]=.*)$/s;

export function usesNamespaceUri(text: string): boolean {
  return text.startsWith("nsu=");
}

function parse(text: string): NodeIdResolution {
  try {
    return { ok: true, nodeId: resolveNodeId(text) };
  } catch (e) {
    return {
      ok: false,
      reason: `BadNodeIdInvalid (${JSON.stringify(text)} is not a node id: ${e instanceof Error ? e.message : String(e)})`,
    };
  }
}

/**
 * Resolves one node id string. `namespaceArray` is the server's (index = position); it is
 * only consulted for the `nsu=` form. A namespace the server does not have gives
 * `BadNodeIdUnknown` with the URI named, as the server would for an unknown node.
 */
export function resolveTagNodeId(text: string, namespaceArray: readonly string[]): NodeIdResolution {
  const trimmed = text.trim();
  if (!usesNamespaceUri(trimmed)) return parse(trimmed);
  const m = NAMESPACE_URI_FORM.exec(trimmed);
  if (m === null) {
    return {
      ok: false,
      reason: `BadNodeIdInvalid (${JSON.stringify(text)} is not nsu=<uri>;<i|s|g|b>=<id>)`,
    };
  }
  const uri = m[1]!;
  const identifier = m[2]!;
  const index = namespaceArray.indexOf(uri);
  if (index < 0) {
    return {
      ok: false,
      reason: `BadNodeIdUnknown (namespace ${uri} is not in the server's namespace array)`,
    };
  }
  return parse(`ns=${index};${identifier}`);
}

/** Resolves every tag's node id: tag name → resolution. */
export function resolveTagNodeIds(
  tags: readonly { name: string; nodeId: string }[],
  namespaceArray: readonly string[],
): Map<string, NodeIdResolution> {
  const out = new Map<string, NodeIdResolution>();
  for (const tag of tags) out.set(tag.name, resolveTagNodeId(tag.nodeId, namespaceArray));
  return out;
}
