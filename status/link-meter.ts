/**
 * Counts a unit's I/O where it happens, without touching the machines: a decorator around the
 * unit's `UnitLink` (bin/runtime/start-plant.ts wraps every link it creates) that keeps the
 * figures the connection machine does not — requests per operation, errors by code, the read
 * latency histogram and when the unit last delivered a good value. The status server reads them
 * on each scrape (collect-on-scrape); nothing here is updated twice.
 *
 * Counting rules:
 * - one request per call of the link: `read` (one read of a set of tags; the Modbus link sends
 *   it as one request per planned register range), `write`, `subscribe`, `connect`;
 * - a call that rejects is one error with the rejection's code; a read that resolves with bad
 *   values is one error per distinct code among them (a Modbus exception reply: one
 *   PB_ERR_MODBUS_EXCEPTION);
 * - latency: every read call that settles, from call to settle, on the monotonic clock.
 */
import type { Reading, TagValue, UnitLink } from "../adapters/types.ts";
import { isPlantbridgeError } from "../lib/errors.ts";

export type LinkOperation = "read" | "write" | "subscribe" | "connect";

/** Upper bounds of the read latency buckets, in seconds (the last bucket is +Inf). */
export const readLatencyBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

export interface LatencyFigures {
  /** Upper bounds in seconds. */
  bounds: readonly number[];
  /** Observations per bucket, not cumulative; one more entry than `bounds` (+Inf). */
  counts: number[];
  /** Sum of the observations, seconds. */
  sum: number;
  count: number;
}

export interface LinkFigures {
  unit: string;
  requests: Record<LinkOperation, number>;
  /** Errors by PlantbridgeError code (`unknown` when the failure carried none). */
  errors: Record<string, number>;
  readLatency: LatencyFigures;
  /** Monotonic time (ms) of the last good value the unit delivered (read or pushed); null: none yet. */
  lastGoodAt: number | null;
}

export interface LinkMeter {
  readonly unit: string;
  /** A copy of the figures as they are now. */
  figures(): LinkFigures;
}

export interface MeteredLink {
  link: UnitLink;
  meter: LinkMeter;
}

function codeOf(e: unknown): string {
  return isPlantbridgeError(e) ? e.code : "unknown";
}

/** Wraps `link`; the returned link behaves exactly like it and is counted by the returned meter. */
export function meterLink(link: UnitLink, monotonic: () => number = () => performance.now()): MeteredLink {
  const requests: Record<LinkOperation, number> = { read: 0, write: 0, subscribe: 0, connect: 0 };
  const errors: Record<string, number> = {};
  const latency: LatencyFigures = {
    bounds: readLatencyBuckets,
    counts: new Array<number>(readLatencyBuckets.length + 1).fill(0),
    sum: 0,
    count: 0,
  };
  let lastGoodAt: number | null = null;

  const countError = (code: string) => {
    errors[code] = (errors[code] ?? 0) + 1;
  };
  const observeRead = (seconds: number) => {
    let bucket = readLatencyBuckets.findIndex((bound) => seconds <= bound);
    if (bucket < 0) bucket = readLatencyBuckets.length;
    latency.counts[bucket] = (latency.counts[bucket] ?? 0) + 1;
    latency.sum += seconds;
    latency.count += 1;
  };
  const noteReadings = (readings: Iterable<Reading>) => {
    const badCodes = new Set<string>();
    let good = false;
    for (const r of readings) {
      if (r.quality === "good") good = true;
      else badCodes.add(r.code ?? "unknown");
    }
    if (good) lastGoodAt = monotonic();
    for (const code of badCodes) countError(code);
  };
  async function counted<T>(operation: LinkOperation, call: () => Promise<T>): Promise<T> {
    requests[operation] += 1;
    try {
      return await call();
    } catch (e) {
      countError(codeOf(e));
      throw e;
    }
  }

  const metered: UnitLink = {
    unit: link.unit,
    connect: () => counted("connect", () => link.connect()),
    async read(tags: readonly string[]) {
      const started = monotonic();
      try {
        const readings = await counted("read", () => link.read(tags));
        noteReadings(readings.values());
        return readings;
      } finally {
        observeRead((monotonic() - started) / 1000);
      }
    },
    write: (tag: string, value: TagValue) => counted("write", () => link.write(tag, value)),
    close: () => link.close(),
    onLost: (listener) => link.onLost(listener),
  };
  const subscribe = link.subscribe?.bind(link);
  if (subscribe !== undefined) {
    metered.subscribe = (tags, listener) =>
      counted("subscribe", () =>
        subscribe(tags, {
          reading(tag, reading) {
            if (reading.quality === "good") lastGoodAt = monotonic();
            listener.reading(tag, reading);
          },
          alive: () => listener.alive(),
          ended: (reason) => listener.ended(reason),
        }),
      );
  }

  const meter: LinkMeter = {
    unit: link.unit,
    figures: () => ({
      unit: link.unit,
      requests: { ...requests },
      errors: { ...errors },
      readLatency: { ...latency, counts: [...latency.counts] },
      lastGoodAt,
    }),
  };
  return { link: metered, meter };
}
