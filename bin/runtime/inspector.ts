import { createServer } from "node:net";
import { createWebSocketInspector } from "@statelyai/inspect";
import { createInspectorServer } from "@statelyai/inspect/server";
import type { MachineContext } from "xstate";
import type { Log } from "../../lib/log.ts";
import { inspectableContext } from "../../machines/inspect-context.ts";

export interface LiveInspector {
  /** Pass to `createActor(machine, { inspect })`. */
  inspect: ReturnType<typeof createWebSocketInspector>["inspect"];
  url: string;
  stop(): void;
}

/** Fails with a clear message instead of crashing the process when the port is taken. */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", () =>
      reject(new Error(`--inspect: port ${port} is in use; choose another with --inspect=PORT`)),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

/**
 * Serves the live actor system to the Stately inspector: open the printed http://localhost:PORT
 * in a browser (it embeds the Stately inspector UI and bridges the WebSocket).
 */
export async function startInspector(port: number, log: Log): Promise<LiveInspector> {
  await assertPortFree(port);
  const server = createInspectorServer({ port, autoOpen: false });
  // Contexts hold links, the spool and the plant config: send plain figures only, never a secret.
  const inspector = createWebSocketInspector({
    url: `ws://localhost:${port}`,
    sanitizeContext: (context) => inspectableContext(context) as MachineContext,
  });
  const url = `http://localhost:${port}`;
  log.info({ url }, `Stately inspector: open ${url} in a browser`);
  return {
    inspect: inspector.inspect,
    url,
    stop() {
      inspector.stop();
      server.stop();
    },
  };
}
