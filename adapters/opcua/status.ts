/**
 * OPC UA status codes and node-opcua errors turned into plantbridge's words: a quality
 * with a reason for a value, a coded PlantbridgeError for a failed service call.
 */
import type { StatusCode } from "node-opcua-client";
import { ErrorCode, type ErrorOrigin, PlantbridgeError } from "../../lib/errors.ts";

export type StatusSeverity = "good" | "uncertain" | "bad";

/** The two top bits of a status code: 00 good, 01 uncertain, 1x bad. */
export function severityOf(status: StatusCode): StatusSeverity {
  const top = status.value >>> 30;
  return top === 0 ? "good" : top === 1 ? "uncertain" : "bad";
}

/** `BadNodeIdUnknown`; a code node-opcua does not know by name gives its hex value. */
export function statusName(status: StatusCode): string {
  const name = status.name;
  return name && name !== "Unknown" ? name : `0x${status.value.toString(16).padStart(8, "0")}`;
}

/** Statuses that mean the user identity was refused. */
const AUTH_STATUSES: ReadonlySet<string> = new Set([
  "BadUserAccessDenied",
  "BadIdentityTokenInvalid",
  "BadIdentityTokenRejected",
  "BadUserSignatureInvalid",
]);

/** Statuses that mean the session or the secure channel is gone: the link is lost. */
const LINK_STATUSES: ReadonlySet<string> = new Set([
  "BadSessionIdInvalid",
  "BadSessionClosed",
  "BadSessionNotActivated",
  "BadSecureChannelIdInvalid",
  "BadSecureChannelClosed",
  "BadSecureChannelTokenUnknown",
  "BadConnectionClosed",
  "BadConnectionRejected",
  "BadNotConnected",
  "BadServerNotConnected",
  "BadCommunicationError",
  "BadDisconnect",
  "BadShutdown",
  "BadServerHalted",
  "BadNoCommunication",
  "BadTcpInternalError",
  "BadTcpSecureChannelUnknown",
  "BadTooManySessions",
]);

const TIMEOUT_STATUSES: ReadonlySet<string> = new Set(["BadTimeout", "BadRequestTimeout"]);

/** The first `BadXxx` name in a node-opcua error message ("BadUserAccessDenied (0x801f0000)"). */
export function statusNameInError(e: unknown): string | undefined {
  const message = e instanceof Error ? e.message : typeof e === "string" ? e : "";
  return /\b(Bad[A-Za-z0-9]+)\b/.exec(message)?.[1];
}

function looksLikeTimeout(e: unknown): boolean {
  const message = e instanceof Error ? e.message : String(e);
  const name = statusNameInError(e);
  return (name !== undefined && TIMEOUT_STATUSES.has(name)) || /timed? ?out/i.test(message);
}

function looksLikeLinkFailure(e: unknown): boolean {
  const name = statusNameInError(e);
  if (name !== undefined) return LINK_STATUSES.has(name);
  const message = e instanceof Error ? e.message : String(e);
  return /socket|channel|connection|disconnect|closed|terminat|ECONN|EPIPE|not connected/i.test(message);
}

/** Removes a secret from a library's message, should one ever echo it. */
export function withoutSecret(message: string, secret: string | undefined): string {
  return secret ? message.split(secret).join("***") : message;
}

function messageOf(e: unknown, secret: string | undefined): string {
  const m = e instanceof Error ? e.message : String(e);
  return withoutSecret(m.split("\n")[0] ?? m, secret);
}

/** A failure while connecting (channel, session, namespace array). */
export function connectError(e: unknown, origin: ErrorOrigin, secret?: string): PlantbridgeError {
  if (e instanceof PlantbridgeError) return e;
  const name = statusNameInError(e);
  const message = messageOf(e, secret);
  if (name !== undefined && AUTH_STATUSES.has(name)) {
    return new PlantbridgeError(
      ErrorCode.OPCUA_AUTH,
      `the server refused the user identity (${name})`,
      origin,
    );
  }
  // node-opcua's own refusal when the endpoint offers no policy for this kind of identity
  if (/user token policy/i.test(message)) {
    return new PlantbridgeError(
      ErrorCode.OPCUA_AUTH,
      `the server does not accept this identity: ${message}`,
      origin,
    );
  }
  if (looksLikeTimeout(e)) {
    return new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, `connect timed out: ${message}`, origin);
  }
  return new PlantbridgeError(ErrorCode.OPCUA_CONNECT, `connect failed: ${message}`, origin);
}

export interface ServiceFailure {
  error: PlantbridgeError;
  /** The session or channel is gone (or cannot be trusted): the link must report `lost`. */
  linkLost: boolean;
}

/** A failure of a whole service call (Read, Write, CreateSubscription, …). */
export function serviceError(
  e: unknown,
  service: string,
  origin: ErrorOrigin,
  secret?: string,
): ServiceFailure {
  if (e instanceof PlantbridgeError) {
    const linkLost = e.code === ErrorCode.OPCUA_TIMEOUT || e.code === ErrorCode.LINK_LOST;
    return { error: e, linkLost };
  }
  const message = messageOf(e, secret);
  if (looksLikeTimeout(e)) {
    return {
      error: new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, `${service} timed out: ${message}`, origin, {
        cause: e,
      }),
      linkLost: true,
    };
  }
  if (looksLikeLinkFailure(e)) {
    return {
      error: new PlantbridgeError(ErrorCode.LINK_LOST, `${service} failed, link lost: ${message}`, origin, {
        cause: e,
      }),
      linkLost: true,
    };
  }
  return {
    error: new PlantbridgeError(ErrorCode.OPCUA_BAD_STATUS, `${service} failed: ${message}`, origin, {
      cause: e,
    }),
    linkLost: false,
  };
}
