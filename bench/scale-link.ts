/**
 * A bench-only unit behind the real `UnitLink` interface: an in-process synthetic PLC that answers
 * every read at once with deterministic values for any number of tags, so the end-to-end bench
 * drives the real plant machine, storage, spool, forwarder and PostgreSQL sink at plant scale
 * without the network or a simulator in the way. Value of tag i at read n: (n + i) % 1000 / 10.
 * It never fails, never loses its link and refuses writes (nothing here is writable).
 */
import type { Reading, UnitLink } from "../adapters/types.ts";
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";

export interface ScaleLink extends UnitLink {
  /** Reads answered so far. */
  readonly reads: number;
}

export function createScaleLink(unit: string): ScaleLink {
  let reads = 0;
  const indexOf = new Map<string, number>();
  return {
    unit,
    get reads() {
      return reads;
    },
    async connect() {},
    async read(tags) {
      const n = reads++;
      const time = Date.now();
      const receivedAt = performance.now();
      const out = new Map<string, Reading>();
      for (const tag of tags) {
        let i = indexOf.get(tag);
        if (i === undefined) {
          i = indexOf.size;
          indexOf.set(tag, i);
        }
        out.set(tag, { value: ((n + i) % 1000) / 10, quality: "good", time, receivedAt });
      }
      return out;
    },
    async write(tag) {
      throw new PlantbridgeError(ErrorCode.NOT_WRITABLE, "the bench's scale unit takes no writes", {
        unit,
        tag,
      });
    },
    async close() {},
    onLost: () => () => undefined,
  };
}
