/**
 * slonik 49 builds a pool by first looking up the type parsers' OIDs over a pg Client of its own,
 * and that Client has no 'error' listener. A connection reset while the lookup runs (the network
 * drops just as the historian connects again) makes pg emit an 'error' event nobody listens to:
 * an uncaught exception that ends the whole plant process. The lookup's query is rejected with the
 * same error, so createPool rejects and the caller retries later; the event carries nothing more.
 * The guard gives every pg Client that has no 'error' listener when it connects one that keeps
 * the event from ending the process. Clients with listeners (slonik's pool connections) are
 * unchanged.
 */
import { createRequire } from "node:module";

/** The part of pg's Client this touches (the package ships no types and @types/pg is not installed). */
interface ClientPrototype {
  connect(this: ClientLike, ...args: unknown[]): unknown;
}
interface ClientLike {
  listenerCount(event: string): number;
  on(event: string, listener: (error: unknown) => void): unknown;
}

const require = createRequire(import.meta.url);
let installed = false;

/** A connection error the Client's pending calls already reject with. */
function connectionErrorDelivered(): void {}

/** Installs the guard once per process; later calls do nothing. */
export function guardPgClientErrors(): void {
  if (installed) return;
  installed = true;
  const pg = require("pg") as { Client: { prototype: ClientPrototype } };
  const connect = pg.Client.prototype.connect;
  pg.Client.prototype.connect = function guardedConnect(this: ClientLike, ...args: unknown[]) {
    if (this.listenerCount("error") === 0) this.on("error", connectionErrorDelivered);
    return connect.apply(this, args);
  };
}
