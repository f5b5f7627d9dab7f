/**
 * A TCP proxy a test owns, to cut a server (the database) without touching the server:
 * `sever()` destroys every open connection (RST to the client) and refuses new ones until
 * `restore()`. `stall()` is the nastier outage: connections stay open but nothing passes (a
 * silent network, no RST), so only the client's own timeouts can notice. Listens on 127.0.0.1, port 0.
 */
import { createConnection, createServer, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Destroys all current connections and refuses new ones. */
  sever(): void;
  /** Keeps every connection (and new ones) open but forwards nothing, in either direction. */
  stall(): void;
  /** Accepts and forwards connections again; connections held silent by `stall()` are reset. */
  restore(): void;
  /** Connections forwarded since start (a test can check a client really went through). */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const clients = new Set<Socket>();
  const upstreams = new Set<Socket>();
  let severed = false;
  let stalled = false;
  let accepted = 0;

  const track = (socket: Socket, set: Set<Socket>) => {
    set.add(socket);
    socket.on("close", () => set.delete(socket));
    // A reset peer must not become an unhandled 'error' event.
    socket.on("error", () => socket.destroy());
  };

  const server = createServer((client) => {
    if (severed) {
      client.on("error", () => {});
      client.resetAndDestroy();
      return;
    }
    if (stalled) {
      track(client, clients);
      client.pause();
      return;
    }
    accepted++;
    const upstream = createConnection({ host: target.host, port: target.port });
    track(client, clients);
    track(upstream, upstreams);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("tcp proxy: no port");

  const cutAll = () => {
    for (const socket of [...clients]) if (!socket.destroyed) socket.resetAndDestroy();
    for (const socket of [...upstreams]) socket.destroy();
  };

  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    sever() {
      severed = true;
      cutAll();
    },
    stall() {
      stalled = true;
      for (const socket of [...clients, ...upstreams]) {
        socket.unpipe();
        socket.pause();
      }
    },
    restore() {
      if (stalled) cutAll();
      severed = false;
      stalled = false;
    },
    close() {
      severed = true;
      cutAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
