/**
 * Subscription faults of the METH simulator, applied to the running node-opcua server:
 * - `refuse-subscriptions`: CreateSubscription is answered BadTooManySubscriptions (the server's
 *   limit is set to none), as after a crash of a client whose old session still holds its
 *   subscriptions; existing subscriptions go on.
 * - `silent-subscriptions`: Publish requests are held unanswered, so subscriptions show no life
 *   at all (no data, no keep-alive) while Read, Write and the session keep working: the communication
 *   task of a PLC whose publish engine hangs.
 * Both end with `clear()` (and with a restart, which builds a new server).
 */
import type { OPCUAServer } from "node-opcua";

interface PublishDispatch {
  // node-opcua's handler of PublishRequest on the server instance (not in its public types).
  _on_PublishRequest(message: unknown, channel: unknown): void;
}

interface EngineSessions {
  // node-opcua keeps its sessions here, each with the publish requests it holds (not public types).
  _sessions?: Record<string, { publishEngine?: { _publish_request_queue?: unknown[] } }>;
}

/** Drops the publish requests every session holds, unanswered: no publish response can follow. */
function dropHeldPublishRequests(server: OPCUAServer | undefined): void {
  const sessions = (server?.engine as unknown as EngineSessions | undefined)?._sessions ?? {};
  for (const session of Object.values(sessions)) {
    const engine = session.publishEngine;
    if (engine?._publish_request_queue !== undefined) engine._publish_request_queue = [];
  }
}

export interface SubscriptionFaults {
  /** Applies the faults that hold to a (new) server. */
  attach(server: OPCUAServer): void;
  refuse(): void;
  silence(): void;
  clear(): void;
}

export function subscriptionFaults(): SubscriptionFaults {
  let server: OPCUAServer | undefined;
  let refusing = false;
  let silent = false;
  let maxSubscriptions: number | undefined;

  function applyRefusal(): void {
    const capabilities = server?.engine.serverCapabilities;
    if (capabilities === undefined) return;
    maxSubscriptions ??= capabilities.maxSubscriptions;
    capabilities.maxSubscriptions = refusing ? 0 : maxSubscriptions;
  }

  return {
    attach(s) {
      server = s;
      maxSubscriptions = undefined;
      const dispatch = s as unknown as PublishDispatch;
      const answer = dispatch._on_PublishRequest.bind(s);
      dispatch._on_PublishRequest = (message, channel) => {
        // Held, never answered: the client's request times out on its side.
        if (!silent) answer(message, channel);
      };
      applyRefusal();
    },
    refuse() {
      refusing = true;
      applyRefusal();
    },
    silence() {
      silent = true;
      dropHeldPublishRequests(server);
    },
    clear() {
      refusing = false;
      silent = false;
      applyRefusal();
    },
  };
}
