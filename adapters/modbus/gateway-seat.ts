/**
 * One unit's seat on a gateway's shared connection: its own connect, run, close and lost signal
 * over the one socket. Connecting joins the gateway's live wire (opening it when there is none);
 * errors are told with the unit's name.
 */
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { DemotionPolicy } from "./demotion.ts";
import type { GatewayMember } from "./gateway-member.ts";
import type { GatewayWire, TransactionOutcome } from "./gateway-wire.ts";

export interface SeatConfig {
  name: string;
  unitId: number;
  timeoutMs: number;
  demotion: DemotionPolicy;
}

/** One unit's place on the shared connection. */
export interface GatewaySeat {
  readonly member: GatewayMember;
  connect(): Promise<void>;
  /** One outcome per request PDU; rejects (link-level) when the unit is not on a live connection. */
  run(pdus: readonly Buffer[]): Promise<TransactionOutcome[]>;
  close(): Promise<void>;
  onLost(listener: (error: PlantbridgeError) => void): () => void;
}

export interface SeatState {
  member: GatewayMember;
  wire: GatewayWire | undefined;
  connecting: { promise: Promise<void>; abort(error: PlantbridgeError): void } | undefined;
  lost: Set<(error: PlantbridgeError) => void>;
}

export const withUnit = (error: PlantbridgeError, unit: string) =>
  new PlantbridgeError(error.code, error.message, { ...error.origin, unit }, { cause: error });

export function asModbusError(e: unknown): PlantbridgeError {
  return e instanceof PlantbridgeError ? e : new PlantbridgeError(ErrorCode.MODBUS_OFFLINE, errorMessage(e));
}

/** The seat as its unit's link sees it; `liveWire` gives the gateway's wire, `close` leaves it. */
export function seatOf(
  state: SeatState,
  liveWire: () => Promise<GatewayWire>,
  close: (state: SeatState) => Promise<void>,
): GatewaySeat {
  const { member } = state;
  return {
    member,
    connect: () => joinWire(state, liveWire),
    run(pdus) {
      const current = state.wire;
      if (current === undefined || current.ended) {
        return Promise.reject(
          new PlantbridgeError(ErrorCode.NOT_CONNECTED, "not connected", { unit: member.name }),
        );
      }
      return current.run(member, pdus).catch((e: unknown) => {
        throw withUnit(asModbusError(e), member.name);
      });
    },
    close: () => close(state),
    onLost(listener) {
      state.lost.add(listener);
      return () => {
        state.lost.delete(listener);
      };
    },
  };
}

/** Joins the live wire (one attempt at a time per seat; `close` aborts it). */
function joinWire(seat: SeatState, liveWire: () => Promise<GatewayWire>): Promise<void> {
  if (seat.wire !== undefined && !seat.wire.ended) return Promise.resolve();
  if (seat.connecting !== undefined) return seat.connecting.promise;
  let abort: (error: PlantbridgeError) => void = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    let settled = false;
    abort = (error) => {
      if (settled) return;
      settled = true;
      seat.connecting = undefined;
      reject(error);
    };
    liveWire().then(
      (live) => {
        if (settled) return;
        settled = true;
        seat.connecting = undefined;
        live.attach(seat.member);
        seat.wire = live;
        resolve();
      },
      (e: unknown) => abort(withUnit(asModbusError(e), seat.member.name)),
    );
  });
  seat.connecting = { promise, abort: (error) => abort(error) };
  return promise;
}
