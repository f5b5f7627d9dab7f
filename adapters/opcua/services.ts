/**
 * The Read and Write services of one OPC UA connection, each bounded by the unit's timeout. A
 * failure of the link itself (timeout, channel or session gone) rejects with a link-level code; a
 * service-level refusal of a whole Read gives every asked tag bad quality with the server's
 * reason (the link stays up), as a Bad status of one node does for that node's tag.
 */
import { AttributeIds, type DataValue, type NodeId, type StatusCode } from "node-opcua-client";
import { withDeadline } from "../../lib/deadline.ts";
import { ErrorCode, type ErrorOrigin, PlantbridgeError } from "../../lib/errors.ts";
import type { OpcuaTagConfig, OpcuaUnitConfig } from "../../schemas/plant-types.ts";
import type { Reading, ReadingStamp, TagValue } from "../types.ts";
import type { OpcuaConnection } from "./connection.ts";
import { type ServiceFailure, serviceError, severityOf, statusName } from "./status.ts";
import { badReading, readingFromDataValue, variantForWrite } from "./values.ts";

export interface ServiceDeps {
  unit: OpcuaUnitConfig;
  stamp(): ReadingStamp;
  /** Told of every failure; a link-level one is reported lost by the link. */
  failed(conn: OpcuaConnection, failure: ServiceFailure): void;
}

function fail(deps: ServiceDeps, conn: OpcuaConnection, e: unknown, service: string, origin: ErrorOrigin) {
  const failure = serviceError(e, service, origin, deps.unit.password);
  deps.failed(conn, failure);
  return failure;
}

/** One Read call for every tag whose node id resolved; one Reading per name, always. */
export async function readTags(
  deps: ServiceDeps,
  conn: OpcuaConnection,
  names: readonly string[],
): Promise<Map<string, Reading>> {
  const { unit } = deps;
  const asked: { name: string; nodeId: NodeId }[] = [];
  for (const name of names) {
    const r = conn.nodeIds.get(name);
    if (r?.ok) asked.push({ name, nodeId: r.nodeId });
  }
  let values: DataValue[] = [];
  let refused: string | undefined;
  if (asked.length > 0) {
    try {
      values = await withDeadline(
        conn.session.read(
          asked.map((a) => ({ nodeId: a.nodeId, attributeId: AttributeIds.Value })),
          0,
        ),
        unit.timeoutMs,
        () =>
          new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, `Read: no answer within ${unit.timeoutMs} ms`, {
            unit: unit.name,
          }),
      );
      if (values.length !== asked.length)
        refused = `Read returned ${values.length} values for ${asked.length} nodes`;
    } catch (e) {
      const failure = fail(deps, conn, e, "Read", { unit: unit.name });
      if (failure.linkLost) throw failure.error;
      refused = failure.error.message;
    }
  }
  const at = deps.stamp();
  const readings = new Map<string, Reading>();
  asked.forEach((a, i) => {
    const value = values[i];
    readings.set(
      a.name,
      refused === undefined && value !== undefined
        ? readingFromDataValue(value, at)
        : badReading(refused ?? "no value", at),
    );
  });
  for (const name of names) {
    if (readings.has(name)) continue;
    const r = conn.nodeIds.get(name);
    readings.set(name, badReading(r && !r.ok ? r.reason : "BadNodeIdUnknown", at));
  }
  return readings;
}

/** Writes one checked value; rejects with a tag-level code when refused, a link-level one when the link failed. */
export async function writeTag(
  deps: ServiceDeps,
  conn: OpcuaConnection,
  tag: OpcuaTagConfig,
  value: TagValue,
): Promise<void> {
  const { unit } = deps;
  const origin = { unit: unit.name, tag: tag.name };
  const variant = variantForWrite(unit.name, tag, value);
  const resolved = conn.nodeIds.get(tag.name);
  if (!resolved?.ok) {
    throw new PlantbridgeError(
      ErrorCode.OPCUA_BAD_STATUS,
      `write not sent: ${resolved?.reason ?? "BadNodeIdUnknown"}`,
      origin,
    );
  }
  let status: StatusCode;
  try {
    status = await withDeadline(
      conn.session.write({
        nodeId: resolved.nodeId,
        attributeId: AttributeIds.Value,
        value: { value: variant },
      }),
      unit.timeoutMs,
      () =>
        new PlantbridgeError(ErrorCode.OPCUA_TIMEOUT, `Write: no answer within ${unit.timeoutMs} ms`, origin),
    );
  } catch (e) {
    throw fail(deps, conn, e, "Write", origin).error;
  }
  if (severityOf(status) !== "good") {
    throw new PlantbridgeError(
      ErrorCode.OPCUA_BAD_STATUS,
      `the server refused the write of ${value}: ${statusName(status)}`,
      origin,
    );
  }
}
