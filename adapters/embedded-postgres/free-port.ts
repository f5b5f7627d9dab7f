import { createServer } from "node:net";

/**
 * A TCP port free on 127.0.0.1 right now: bind port 0, read what the system gave, close.
 * Another process could take it before it is used; callers that start a server on it
 * report that as a start failure.
 */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port found"))));
    });
  });
}
