/**
 * A group of one unit's requests on a shared Modbus TCP connection (a read's requests, or one
 * write), and what became of each: replied, an exception, or unanswered (not answered in time, or
 * not sent because its unit is demoted). A group settles once, with one outcome per request, in order.
 */
import { ErrorCode, type PlantbridgeError } from "../../lib/errors.ts";
import type { GatewayMember } from "./gateway-member.ts";

/** What became of one request of a group. */
export type TransactionOutcome =
  /** A normal reply, checked by the frame guard: its PDU, and when it arrived (monotonic ms). */
  | { kind: "reply"; pdu: Buffer; at: number }
  | { kind: "exception"; code: number; at: number }
  /** Not answered, or not sent: `code` is PB_ERR_MODBUS_NO_REPLY or PB_ERR_MODBUS_DEMOTED. */
  | { kind: "unanswered"; code: ErrorCode; reason: string; at: number };

export interface RequestGroup {
  member: GatewayMember;
  pdus: readonly Buffer[];
  outcomes: TransactionOutcome[];
  resolve(outcomes: TransactionOutcome[]): void;
  reject(error: PlantbridgeError): void;
  /** Its unit left the wire: whatever still happens to it is not reported. */
  cancelled: boolean;
}

/** Resolves the group with its outcomes, unless its unit left the wire. */
export function settle(group: RequestGroup): void {
  if (!group.cancelled) group.resolve(group.outcomes);
}

/** Fills the group's remaining outcomes without sending them (`at`: monotonic ms), and settles it. */
export function skipRest(group: RequestGroup, code: ErrorCode, reason: string, at: number): void {
  if (code === ErrorCode.MODBUS_DEMOTED)
    group.member.figures.refused += group.pdus.length - group.outcomes.length;
  while (group.outcomes.length < group.pdus.length)
    group.outcomes.push({ kind: "unanswered", code, reason, at });
  settle(group);
}
