/**
 * A tag I/O for machine tests: the real `createTagIO`, with units attached and detached by hand
 * (instead of by connection machines) and pushed values set by hand (instead of by push machines).
 */
import type { Reading, TagValue } from "../../../adapters/types.ts";
import type { PlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import type { PushedImage } from "../../../machines/pushed-image.ts";
import { createTagIO, type TagIO, type TagLink } from "../../../machines/tag-io.ts";
import type { UnitConfig } from "../../../schemas/plant-types.ts";
import type { TestClock } from "./fakes.ts";

export interface TestIO {
  io: TagIO;
  attach(unit: string, link: TagLink): void;
  detach(unit: string): void;
  /** The unit's subscription pushes a value (and shows life). */
  push(unit: string, tag: string, value: TagValue | Reading): void;
  /** The unit's subscription shows life without a value (a keep-alive). */
  alive(unit: string): void;
  image(unit: string): PushedImage;
  linkFailures: { unit: string; error: PlantbridgeError }[];
}

export function createTestIO(units: readonly UnitConfig[], clock: TestClock, silenceLimitMs = 5000): TestIO {
  const links = new Map<string, TagLink>();
  const attached = new Map<string, number>();
  const images = new Map<string, PushedImage & { values: Map<string, Reading> }>();
  const linkFailures: TestIO["linkFailures"] = [];
  let generation = 0;
  const imageOf = (unit: string) => {
    let image = images.get(unit);
    if (image === undefined) {
      image = {
        active: true,
        reason: null,
        values: new Map(),
        lastAliveAt: clock.monotonic(),
        silenceLimitMs,
      };
      images.set(unit, image);
    }
    return image;
  };
  const io = createTagIO({
    units,
    clock,
    log: silentLog(),
    link: (unit) => links.get(unit),
    connection: (unit) => attached.get(unit),
    pushed: (unit) => (attached.has(unit) ? images.get(unit) : undefined),
    onLinkFailure: (unit, error) => linkFailures.push({ unit, error }),
  });
  return {
    io,
    attach(unit, link) {
      links.set(unit, link);
      attached.set(unit, ++generation);
      images.delete(unit);
      imageOf(unit); // a fresh subscription, running, with no values yet
    },
    detach(unit) {
      attached.delete(unit);
      images.delete(unit);
    },
    push(unit, tag, value) {
      const image = imageOf(unit);
      const at = { time: clock.wall(), receivedAt: clock.monotonic() };
      const reading: Reading = typeof value === "object" ? value : { value, quality: "good", ...at };
      image.values.set(tag, reading);
      image.lastAliveAt = clock.monotonic();
    },
    alive(unit) {
      imageOf(unit).lastAliveAt = clock.monotonic();
    },
    image: imageOf,
    linkFailures,
  };
}
