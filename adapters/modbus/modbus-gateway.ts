/**
 * A Modbus TCP gateway (one host:port) whose units share one TCP connection (`connection: shared`).
 * Each unit gets a seat: its own connect, close and lost signal over the one socket, so that each
 * unit's connection machine works as it does with a connection of its own.
 *
 * - `connect()` of the first unit opens the socket (bounded by the longest timeout of the gateway's
 *   units); the others join it. Units that connect while it opens share the attempt.
 * - `close()` takes the unit off the connection; the last one to leave closes the socket.
 * - The connection ending by itself (socket closed, protocol violation, every unit silent) is a lost
 *   link for every unit on it, each told once. A unit's demotion is not a lost link.
 */
import type { Clock } from "../../lib/clock.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { createGatewayMember, type GatewayMember } from "./gateway-member.ts";
import { type GatewaySeat, type SeatConfig, type SeatState, seatOf, withUnit } from "./gateway-seat.ts";
import { openGatewaySocket } from "./gateway-socket.ts";
import { createGatewayWire, type GatewayWire } from "./gateway-wire.ts";

export type { GatewaySeat, SeatConfig };

export interface ModbusGateway {
  readonly address: string;
  seat(config: SeatConfig): GatewaySeat;
  readonly members: readonly GatewayMember[];
}

export function createModbusGateway(
  host: string,
  port: number,
  deps: { log: Log; clock: Clock },
): ModbusGateway {
  const address = `${host}:${port}`;
  const log = deps.log.child({ gateway: address, protocol: "modbus-tcp" });
  const seats = new Map<string, SeatState>();
  let wire: GatewayWire | undefined;
  let opening: Promise<GatewayWire> | undefined;

  const connectTimeoutMs = () => Math.max(...[...seats.values()].map((s) => s.member.timeoutMs));

  function wireEnded(error: PlantbridgeError, members: readonly GatewayMember[]): void {
    log.warn(
      { code: error.code, units: members.map((m) => m.name) },
      `shared connection lost: ${error.message}`,
    );
    for (const member of members) {
      const seat = seats.get(member.name);
      if (seat === undefined || seat.wire === undefined) continue;
      seat.wire = undefined;
      for (const listener of [...seat.lost]) {
        try {
          listener(withUnit(error, member.name));
        } catch (e) {
          log.error({ unit: member.name, err: errorMessage(e) }, "a lost-link listener threw");
        }
      }
    }
  }

  function open(): Promise<GatewayWire> {
    return openGatewaySocket({ host, port, address }, connectTimeoutMs(), (socket) => {
      const opened = createGatewayWire({ socket, address, clock: deps.clock, log, onEnded: wireEnded });
      log.info({ units: [...seats.keys()] }, "shared connection open");
      return opened;
    });
  }

  /** The live connection, opening it when there is none; one attempt shared by every unit that waits. */
  function liveWire(): Promise<GatewayWire> {
    if (wire !== undefined && !wire.ended) return Promise.resolve(wire);
    if (opening === undefined) {
      const attempt = open().then((opened) => {
        wire = opened;
        // Nobody left to use it (every waiting unit closed meanwhile): close it again.
        setImmediate(() => {
          if (opened.members.size === 0 && ![...seats.values()].some((s) => s.connecting)) {
            opened.end(new PlantbridgeError(ErrorCode.NOT_CONNECTED, "no unit on the connection"));
            if (wire === opened) wire = undefined;
          }
        });
        return opened;
      });
      opening = attempt;
      const forget = () => {
        if (opening === attempt) opening = undefined;
      };
      attempt.then(forget, forget);
    }
    return opening;
  }

  async function close(seat: SeatState): Promise<void> {
    const origin = { unit: seat.member.name };
    seat.connecting?.abort(
      new PlantbridgeError(ErrorCode.NOT_CONNECTED, "link closed while connecting", origin),
    );
    const current = seat.wire;
    seat.wire = undefined;
    if (current === undefined || current.ended) return;
    const last = current.detach(
      seat.member,
      new PlantbridgeError(ErrorCode.NOT_CONNECTED, "link closed", origin),
    );
    if (!last) return;
    current.end(new PlantbridgeError(ErrorCode.NOT_CONNECTED, "link closed", origin));
    if (wire === current) wire = undefined;
    log.info("shared connection closed: no unit left on it");
    await current.closed;
  }

  function seat(config: SeatConfig): GatewaySeat {
    if (seats.has(config.name)) throw new Error(`unit ${config.name} already has a seat on ${address}`);
    const member = createGatewayMember({ ...config, address, clock: deps.clock, log });
    const state: SeatState = { member, wire: undefined, connecting: undefined, lost: new Set() };
    seats.set(config.name, state);
    return seatOf(state, liveWire, close);
  }

  return {
    address,
    seat,
    get members() {
      return [...seats.values()].map((s) => s.member);
    },
  };
}
