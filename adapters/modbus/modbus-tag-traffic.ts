/**
 * Reading and writing a unit's tags over its live Modbus connection: a read's requests go through
 * the connection's transaction queue and decode into readings; a Modbus exception marks only that
 * request's tags bad (a write rejects with it); any other failure means the connection cannot be
 * trusted any more and kills it (`lose`), so the link's `lost` fires.
 */
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { Reading, ReadingStamp, TagValue } from "../types.ts";
import { modbusExceptionReason } from "./exception-codes.ts";
import { toPlantbridgeError } from "./library-errors.ts";
import type { Connection } from "./modbus-connection.ts";
import { readArea, writeWords } from "./modbus-requests.ts";
import type { PlannedRequest } from "./request-plan.ts";
import type { UnitTags } from "./unit-tags.ts";

/** The link's live connection; throws PB_ERR_NOT_CONNECTED (naming the tag) when there is none. */
export type LiveConnection = (tag?: string) => Connection;

export interface TagTraffic {
  read(names: readonly string[], live: LiveConnection): Promise<Map<string, Reading>>;
  write(name: string, value: TagValue, live: LiveConnection): Promise<void>;
}

export interface TagTrafficDeps {
  tags: UnitTags;
  log: Log;
  stamp(): ReadingStamp;
  /** Kills a connection that failed: destroys it, rejects what waits, fires the link's `lost`. */
  lose(conn: Connection, error: PlantbridgeError): void;
}

export function createTagTraffic(deps: TagTrafficDeps): TagTraffic {
  const { tags, log, stamp, lose } = deps;
  const origin = tags.origin;

  async function read(names: readonly string[], live: LiveConnection): Promise<Map<string, Reading>> {
    const plan = tags.planFor(names);
    const conn = live();
    const parts = await Promise.all(
      plan.map((request) =>
        conn.queue
          .run(`read ${request.area} ${request.address}+${request.count}`, () =>
            readArea(conn.client, request),
          )
          .then(
            (values) => tags.decode(request, values, stamp()),
            (e: unknown) => exceptionReadings(request, e, conn),
          ),
      ),
    );
    if (parts.length === 1) return parts[0] as Map<string, Reading>;
    // forEach, not for…of: no [name, reading] pair allocated per tag (thousands per storage cycle).
    const result = new Map<string, Reading>();
    for (const part of parts)
      part.forEach((reading, name) => {
        result.set(name, reading);
      });
    return result;
  }

  /** A Modbus exception marks the request's tags bad; anything else is the link's failure and rejects. */
  function exceptionReadings(request: PlannedRequest, e: unknown, conn: Connection): Map<string, Reading> {
    const code = conn.wire.exceptionCode(e);
    if (code === undefined) throw linkFailure(e, conn);
    const reason = modbusExceptionReason(code);
    log.debug({ area: request.area, address: request.address, count: request.count, code }, reason);
    return tags.bad(request, reason, stamp(), ErrorCode.MODBUS_EXCEPTION);
  }

  /**
   * A failure that is not a Modbus exception: the connection cannot be trusted any more (protocol
   * out of sync, offline). Kills it so `lost` fires, and returns the error to reject with.
   */
  function linkFailure(e: unknown, conn: Connection, tag?: string): PlantbridgeError {
    const error = toPlantbridgeError(e, origin(tag));
    if (!conn.ended) lose(conn, error);
    return error;
  }

  async function write(name: string, value: TagValue, live: LiveConnection): Promise<void> {
    const { tag, words } = tags.checkWrite(name, value);
    const conn = live(name);
    const what = `write ${tag.area} ${tag.address}`;
    try {
      await conn.queue.run(what, () => writeWords(conn.client, tag, words));
    } catch (e) {
      const code = conn.wire.exceptionCode(e);
      if (code !== undefined) {
        throw new PlantbridgeError(ErrorCode.MODBUS_EXCEPTION, modbusExceptionReason(code), origin(name), {
          cause: e,
        });
      }
      if (e instanceof PlantbridgeError) throw withTag(e, name);
      throw linkFailure(e, conn, name);
    }
    log.debug({ tag: name, value }, "written");
  }

  return { read, write };
}

function withTag(e: PlantbridgeError, tag: string): PlantbridgeError {
  if (e.origin.tag !== undefined) return e;
  return new PlantbridgeError(e.code, e.message, { ...e.origin, tag }, { cause: e });
}
