import type { OPCUAServer } from "node-opcua";
import { METH_NAMESPACE_INDEX } from "./address-space.ts";

/** What the server has served since the simulator started (across restarts). */
export interface MethServed {
  /** Read service calls, and the nodes they asked for. */
  reads: number;
  readNodes: number;
  /** Reads that asked for at least one of METH's own variables (namespace 7), not keep-alive reads of the server state. */
  valueReads: number;
  /** Write service calls. */
  writes: number;
  subscriptions: number;
  monitoredItems: number;
  /** CreateSession calls, ActivateSession calls. */
  sessionsCreated: number;
  sessionsActivated: number;
  /** Secure channels opened (every connection attempt that got as far as HEL). */
  channels: number;
}

export function noneServed(): MethServed {
  return {
    reads: 0,
    readNodes: 0,
    valueReads: 0,
    writes: 0,
    subscriptions: 0,
    monitoredItems: 0,
    sessionsCreated: 0,
    sessionsActivated: 0,
    channels: 0,
  };
}

/** Counts every request the server receives into `served`. */
export function countServed(server: OPCUAServer, served: MethServed): void {
  server.on("newChannel", () => {
    served.channels += 1;
  });
  server.on("request", (request) => {
    switch (request.schema.name) {
      case "ReadRequest": {
        const nodes = (request as { nodesToRead?: { nodeId?: { namespace?: number } }[] | null }).nodesToRead;
        served.reads += 1;
        served.readNodes += nodes?.length ?? 0;
        if (nodes?.some((n) => n.nodeId?.namespace === METH_NAMESPACE_INDEX)) served.valueReads += 1;
        break;
      }
      case "WriteRequest":
        served.writes += 1;
        break;
      case "CreateSubscriptionRequest":
        served.subscriptions += 1;
        break;
      case "CreateMonitoredItemsRequest":
        served.monitoredItems += (request as { itemsToCreate?: unknown[] | null }).itemsToCreate?.length ?? 0;
        break;
      case "CreateSessionRequest":
        served.sessionsCreated += 1;
        break;
      case "ActivateSessionRequest":
        served.sessionsActivated += 1;
        break;
    }
  });
}
