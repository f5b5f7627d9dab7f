/**
 * Each sink's delivery rate (rows/s over the last window) and whether it delivered lately,
 * from the forwarder's own `delivered` counter sampled once a second on the monotonic clock.
 */

interface Sample {
  at: number;
  delivered: number;
}

export interface SinkRates {
  /** Records the sinks' delivered counters as of `at` (monotonic ms). */
  sample(at: number, delivered: Readonly<Record<string, number>>): void;
  rowsPerSecond(sink: string): number;
  /** The sink's counter moved within the last `lagLimitSeconds`. */
  deliveredRecently(sink: string): boolean;
  /** A sink whose oldest waiting sample is older than this, and that delivered nothing for as long, is not draining. */
  readonly lagLimitSeconds: number;
}

export function createSinkRates(options: { windowMs: number; lagLimitSeconds: number }): SinkRates {
  const history = new Map<string, Sample[]>();
  const lastMove = new Map<string, number>();
  let latest = 0;
  return {
    lagLimitSeconds: options.lagLimitSeconds,
    sample(at, delivered) {
      latest = at;
      for (const [sink, count] of Object.entries(delivered)) {
        const list = history.get(sink) ?? [];
        const previous = list.at(-1);
        if (previous === undefined || count !== previous.delivered) lastMove.set(sink, at);
        list.push({ at, delivered: count });
        while (list.length > 2 && (list[0]?.at ?? at) < at - options.windowMs) list.shift();
        history.set(sink, list);
      }
    },
    rowsPerSecond(sink) {
      const list = history.get(sink) ?? [];
      const first = list[0];
      const last = list.at(-1);
      if (first === undefined || last === undefined || last.at <= first.at) return 0;
      return ((last.delivered - first.delivered) * 1000) / (last.at - first.at);
    },
    deliveredRecently(sink) {
      const moved = lastMove.get(sink);
      return moved !== undefined && latest - moved <= options.lagLimitSeconds * 1000;
    },
  };
}
