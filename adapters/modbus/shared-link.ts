/**
 * The `UnitLink` of a Modbus unit on a shared connection (`connection: shared`): its tags, planned,
 * decoded and checked as on a connection of its own (unit-tags.ts), carried by its seat on the
 * gateway (modbus-gateway.ts).
 *
 * What differs from a connection of its own: a request the unit id does not answer in time, or one
 * refused while the unit is demoted, concerns this unit only. A read gives its tags bad quality with
 * the reason (`no reply from unit id 7 within 500 ms`, `demoted for 10 s after 3 timeouts in a row`);
 * a write rejects with PB_ERR_MODBUS_NO_REPLY or PB_ERR_MODBUS_DEMOTED, which are not link failures:
 * the connection machine stays connected and the other units on the gateway are not disturbed. Only
 * the shared connection ending (socket closed, protocol violation, every unit silent) rejects with a
 * link-level code and fires `lost`.
 */
import type { Clock } from "../../lib/clock.ts";
import { systemClock } from "../../lib/clock.ts";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import type { ModbusUnitConfig } from "../../schemas/plant-types.ts";
import type { Reading, ReadingStamp, TagValue, UnitLink } from "../types.ts";
import { isBitArea } from "./codec.ts";
import { modbusExceptionReason } from "./exception-codes.ts";
import type { GatewaySeat } from "./modbus-gateway.ts";
import { readReplyValues, readRequestPdu, writeRequestPdu } from "./pdu.ts";
import { createUnitTags } from "./unit-tags.ts";

export interface SharedLinkDeps {
  log: Log;
  clock?: Clock;
}

export function createSharedModbusLink(
  unit: ModbusUnitConfig,
  seat: GatewaySeat,
  deps: SharedLinkDeps,
): UnitLink {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ unit: unit.name, protocol: "modbus-tcp", connection: "shared" });
  const tags = createUnitTags(unit);
  /** The wall-clock stamp of a monotonic instant that just passed. */
  const stampOf = (at: number): ReadingStamp => ({
    time: clock.wall() - (clock.monotonic() - at),
    receivedAt: at,
  });

  async function read(names: readonly string[]): Promise<Map<string, Reading>> {
    const plan = tags.planFor(names);
    const outcomes = await seat.run(plan.map((r) => readRequestPdu(r.area, r.address, r.count)));
    const result = new Map<string, Reading>();
    plan.forEach((request, i) => {
      const outcome = outcomes[i];
      let part: Map<string, Reading>;
      if (outcome === undefined) {
        part = tags.bad(request, "no outcome for this request", stampOf(clock.monotonic()));
      } else if (outcome.kind === "reply") {
        part = tags.decode(
          request,
          readReplyValues(request.area, request.count, outcome.pdu),
          stampOf(outcome.at),
        );
      } else if (outcome.kind === "exception") {
        part = tags.bad(
          request,
          modbusExceptionReason(outcome.code),
          stampOf(outcome.at),
          ErrorCode.MODBUS_EXCEPTION,
        );
      } else {
        part = tags.bad(request, outcome.reason, stampOf(outcome.at), outcome.code);
      }
      part.forEach((reading, name) => {
        result.set(name, reading);
      });
    });
    return result;
  }

  async function write(name: string, value: TagValue): Promise<void> {
    const { tag, words } = tags.checkWrite(name, value);
    const area = isBitArea(tag.area) ? "coil" : "holding";
    let outcomes: Awaited<ReturnType<GatewaySeat["run"]>>;
    try {
      outcomes = await seat.run([writeRequestPdu(area, tag.address, words)]);
    } catch (e) {
      if (e instanceof PlantbridgeError && e.origin.tag === undefined) {
        throw new PlantbridgeError(e.code, e.message, { ...e.origin, tag: name }, { cause: e });
      }
      throw e;
    }
    const outcome = outcomes[0];
    if (outcome?.kind === "reply") {
      log.debug({ tag: name, value }, "written");
      return;
    }
    if (outcome?.kind === "exception") {
      throw new PlantbridgeError(
        ErrorCode.MODBUS_EXCEPTION,
        modbusExceptionReason(outcome.code),
        tags.origin(name),
      );
    }
    const code = outcome?.code ?? ErrorCode.MODBUS_NO_REPLY;
    throw new PlantbridgeError(code, outcome?.reason ?? "no outcome for the write", tags.origin(name));
  }

  return {
    unit: unit.name,
    connect: () => seat.connect(),
    read,
    write,
    close: () => seat.close(),
    onLost: (listener) => seat.onLost(listener),
  };
}
