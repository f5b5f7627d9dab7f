/**
 * Machine contexts hold injected things (links, spool, sinks, logger, clock functions, child
 * actors) that are large, circular or secret-bearing. `inspectableContext` keeps the plain
 * figures and replaces the rest by a short label, for the Stately inspector:
 * `createWebSocketInspector({ sanitizeContext: inspectableContext })`.
 */

const injectedKeys = new Set([
  "deps",
  "io",
  "link",
  "links",
  "spool",
  "sink",
  "sinks",
  "log",
  "transform",
  "clock",
]);

/** Keys whose values are secrets (OPC UA password, historian URL with its password, HTTP token): never sent. */
const secretKeys = new Set(["password", "url", "token"]);

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Copies plain data (the plant config, counters) with every secret replaced. */
function withoutSecrets(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => withoutSecrets(v, depth + 1));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, secretKeys.has(k) ? "[secret]" : withoutSecrets(v, depth + 1)]),
  );
}

function isActorRef(value: object): value is { id: string; sessionId: string } {
  return "sessionId" in value && "send" in value && "id" in value;
}

function label(key: string, value: unknown): unknown {
  if (typeof value === "function") return "[function]";
  if (typeof value !== "object" || value === null) return value;
  if (isActorRef(value)) return `[actor ${value.id}]`;
  if (injectedKeys.has(key)) return "[injected]";
  if (key === "units" || key === "loops" || key === "forwarders") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, label(k, v)]));
  }
  return withoutSecrets(value);
}

export function inspectableContext(context: unknown): unknown {
  if (typeof context !== "object" || context === null) return context;
  return Object.fromEntries(Object.entries(context).map(([key, value]) => [key, label(key, value)]));
}
