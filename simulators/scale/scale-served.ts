/**
 * What the Modbus scale simulator served, per unit id: exact counts, and the newest requests (up to
 * a cap per unit) with the tick their values came from, so that a test can check a stored value
 * against the request that served it.
 */

export interface ScaleServedRequest {
  /** Monotonic ms (the simulator's clock) when the reply left. */
  at: number;
  tick: number;
  address: number;
  count: number;
}

export interface ScaleServedUnit {
  unitId: number;
  /** Read requests answered with values. */
  reads: number;
  /** Registers served in them. */
  registers: number;
  /** Requests answered with a Modbus exception. */
  exceptions: number;
  /** Requests read and never answered (a silent unit id). */
  unanswered: number;
  /** The newest answered reads, oldest first. */
  readonly requests: readonly ScaleServedRequest[];
}

export interface ScaleServed {
  unit(unitId: number): ScaleServedUnit | undefined;
  all(): ScaleServedUnit[];
  read(unitId: number, request: ScaleServedRequest): void;
  exception(unitId: number): void;
  unanswered(unitId: number): void;
  /** True when an answered read of that unit served `register` at `tick`. */
  servedAt(unitId: number, register: number, tick: number): boolean;
}

interface Entry extends ScaleServedUnit {
  requests: ScaleServedRequest[];
}

export function createScaleServed(unitIds: readonly number[], capPerUnit: number): ScaleServed {
  const units = new Map<number, Entry>();
  for (const unitId of unitIds) {
    units.set(unitId, { unitId, reads: 0, registers: 0, exceptions: 0, unanswered: 0, requests: [] });
  }
  /** Counts of requests to unit ids the simulator does not serve (answered with exception 11). */
  const other: Entry = { unitId: -1, reads: 0, registers: 0, exceptions: 0, unanswered: 0, requests: [] };
  const entry = (unitId: number) => units.get(unitId) ?? other;

  return {
    unit: (unitId) => units.get(unitId),
    all: () => [...units.values()],
    read(unitId, request) {
      const e = entry(unitId);
      e.reads++;
      e.registers += request.count;
      e.requests.push(request);
      if (e.requests.length > capPerUnit) e.requests.splice(0, e.requests.length - capPerUnit);
    },
    exception(unitId) {
      entry(unitId).exceptions++;
    },
    unanswered(unitId) {
      entry(unitId).unanswered++;
    },
    servedAt(unitId, register, tick) {
      const e = units.get(unitId);
      if (e === undefined) return false;
      return e.requests.some(
        (r) => (r.tick & 0xffff) === tick && register >= r.address && register < r.address + r.count,
      );
    },
  };
}
