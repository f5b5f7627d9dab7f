import { createServer, type Server } from "node:http";
import { createWebSocketInspector } from "@statelyai/inspect";
import { WebSocket, WebSocketServer } from "ws";
import type { MachineContext } from "xstate";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { inspectableContext } from "../../machines/inspect-context.ts";
import { pageUrl } from "../../status/address.ts";

export interface LiveInspector {
  /** Pass to `createActor(machine, { inspect })`. */
  inspect: ReturnType<typeof createWebSocketInspector>["inspect"];
  url: string;
  /** The address and port it listens on (the real port when 0 was asked for). */
  address: string;
  port: number;
  stop(): void;
}

export interface InspectAddress {
  /** Default 127.0.0.1: this computer only. `--inspect=0.0.0.0:4242` exposes it on purpose. */
  host: string;
  port: number;
}

export const defaultInspectAddress: InspectAddress = { host: "127.0.0.1", port: 4242 };

/** How many events a browser that connects late is given first. */
const replayEvents = 200;

/**
 * The page a browser opens: it embeds the Stately inspector (stately.ai, so that browser needs the
 * internet) and relays the events of this server's WebSocket into it.
 */
function bridgePage(): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>plantbridge — Stately inspector</title>
<style>html,body,iframe{margin:0;width:100%;height:100%;border:0}</style></head>
<body><iframe id="inspector" src="https://stately.ai/inspect"></iframe>
<script>
const frame = document.getElementById("inspector");
const waiting = [];
let ready = false;
addEventListener("message", (e) => {
  if (e.data && e.data.type === "@statelyai.connected") {
    ready = true;
    for (const data of waiting.splice(0)) frame.contentWindow.postMessage(data, "*");
  }
});
const socket = new WebSocket("ws://" + location.host);
socket.onmessage = (e) => {
  const data = JSON.parse(e.data);
  if (ready) frame.contentWindow.postMessage(data, "*");
  else waiting.push(data);
};
</script></body></html>`;
}

function listen(server: Server, address: InspectAddress): Promise<{ address: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once("error", (e) =>
      reject(
        new PlantbridgeError(
          ErrorCode.CONFIG,
          `--inspect: cannot listen on ${address.host}:${address.port}: ${errorMessage(e)}; choose another with --inspect=[HOST:]PORT`,
        ),
      ),
    );
    server.listen(address.port, address.host, () => {
      const bound = server.address();
      resolve(
        typeof bound === "object" && bound !== null
          ? { address: bound.address, port: bound.port }
          : { address: address.host, port: address.port },
      );
    });
  });
}

/**
 * Serves the live actor system to the Stately inspector on `address` (loopback by default): open
 * the printed URL in a browser. The plant's inspector client sends each event over a WebSocket;
 * this server relays it to every browser that is connected (and replays the last ones to a late one).
 */
export async function startInspector(address: InspectAddress, log: Log): Promise<LiveInspector> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(bridgePage());
  });
  const bound = await listen(server, address);
  const port = bound.port;
  // Attached once listening: a taken port is reported by listen(), not thrown by the WebSocket server.
  const sockets = new WebSocketServer({ server });
  const recent: string[] = [];
  sockets.on("connection", (socket) => {
    for (const message of recent) socket.send(message);
    socket.on("message", (data) => {
      const message = data.toString();
      recent.push(message);
      if (recent.length > replayEvents) recent.shift();
      for (const other of sockets.clients)
        if (other !== socket && other.readyState === WebSocket.OPEN) other.send(message);
    });
  });

  const clientHost = address.host === "0.0.0.0" || address.host === "::" ? "127.0.0.1" : address.host;
  // Contexts hold links, the spool and the plant config: send plain figures only, never a secret.
  const inspector = createWebSocketInspector({
    url: `ws://${clientHost.includes(":") ? `[${clientHost}]` : clientHost}:${port}`,
    sanitizeContext: (context) => inspectableContext(context) as MachineContext,
  });
  const url = pageUrl(address.host, port);
  log.info({ url, host: address.host, port }, `Stately inspector: open ${url} in a browser`);
  return {
    inspect: inspector.inspect,
    url,
    address: bound.address,
    port,
    stop() {
      inspector.stop();
      for (const socket of sockets.clients) socket.terminate();
      sockets.close();
      server.close();
    },
  };
}
