/**
 * Who may read the status server. Without a token (loopback only) every request from this
 * computer is served, but only with a Host header naming a loopback address, so a web page
 * elsewhere cannot read it through DNS rebinding. With a token every request must carry it:
 * `Authorization: Bearer TOKEN` (Prometheus, curl), or the cookie the page gets when it is
 * opened once as `/?token=TOKEN` (the server sets it HttpOnly and redirects to `/`, so the
 * token leaves the address bar). The cookie holds a digest of the token, never the token.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";
import { isLoopback } from "./address.ts";

export const sessionCookie = "plantbridge_session";
export const minTokenLength = 16;

export type Verdict = "ok" | "unauthorised" | "bad-host";

export interface RequestCredentials {
  authorization?: string | undefined;
  cookie?: string | undefined;
  /** The `token` query parameter. */
  token?: string | undefined;
  host?: string | undefined;
}

export interface Gate {
  readonly tokenRequired: boolean;
  check(request: RequestCredentials): Verdict;
  /** The cookie value that stands for the token. */
  sessionValue(): string;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(`plantbridge-status:${text}`).digest();
}

function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function hostName(hostHeader: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  return hostHeader.replace(/:\d+$/, "");
}

/** Refuses a non-loopback bind without a token, and a token too short to be one. */
export function createGate(host: string, token: string | undefined): Gate {
  if (token === undefined && !isLoopback(host)) {
    throw new PlantbridgeError(
      ErrorCode.CONFIG,
      `the status server would listen on ${host}, beyond this computer, without a token: set http.token (e.g. token: \${PB_HTTP_TOKEN} with PB_HTTP_TOKEN in the environment), or listen on 127.0.0.1`,
      { keyPath: "http.token" },
    );
  }
  if (token !== undefined && token.length < minTokenLength) {
    throw new PlantbridgeError(
      ErrorCode.CONFIG,
      `http.token must be at least ${minTokenLength} characters (e.g. openssl rand -hex 24)`,
      { keyPath: "http.token" },
    );
  }
  const expected = token === undefined ? undefined : digest(token);
  const session = token === undefined ? "" : digest(`session:${token}`).toString("hex");
  return {
    tokenRequired: expected !== undefined,
    sessionValue: () => session,
    check(request) {
      if (expected === undefined) {
        return request.host !== undefined && isLoopback(hostName(request.host)) ? "ok" : "bad-host";
      }
      const bearer = /^Bearer\s+(.+)$/i.exec(request.authorization ?? "")?.[1]?.trim();
      if (bearer !== undefined && sameDigest(digest(bearer), expected)) return "ok";
      if (request.token !== undefined && sameDigest(digest(request.token), expected)) return "ok";
      const cookie = cookieValue(request.cookie, sessionCookie);
      if (cookie !== undefined && sameDigest(Buffer.from(cookie), Buffer.from(session))) return "ok";
      return "unauthorised";
    },
  };
}
