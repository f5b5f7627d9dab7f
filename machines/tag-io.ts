/**
 * Reading and writing the plant's tags for the consumers (control loops, storage). It keeps no
 * state of its own: whether a unit is connected (and which connection it is on) comes from the
 * unit's connection machine, pushed values and their subscription's life from the unit's push
 * machine, both through the snapshots the plant hands in. Reads are grouped per unit (one
 * `link.read` per unit); subscribed tags are served from the push machine's image; writes are
 * checked against the configuration again before they reach the link (defence in depth). A unit
 * that is not connected gives bad readings and refuses writes; nothing fails silently.
 */
import type { Reading, ReadingStamp, TagValue, UnitLink } from "../adapters/types.ts";
import type { Clock } from "../lib/clock.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { TagId, TagRef, UnitConfig } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import { asPlantbridgeError, isLinkFailure } from "./link-failure.ts";
import { checkWriteAllowed, indexPlantTags, isSubscribedTag, tagsByUnit } from "./plant-tags.ts";
import { type PushedImage, pushedReading } from "./pushed-image.ts";

/** What the tag I/O needs of a link: a UnitLink fits. */
export type TagLink = Pick<UnitLink, "read" | "write">;

export interface TagIO {
  /** One reading per requested tag, always: failures become bad readings with a reason. */
  read(refs: readonly TagRef[]): Promise<Map<TagId, Reading>>;
  /** The same for the tags of one unit. */
  readUnit(unit: string, tags: readonly string[]): Promise<Map<TagId, Reading>>;
  /** Writes one value; rejects with a coded PlantbridgeError naming unit and tag. */
  write(ref: TagRef, value: TagValue): Promise<void>;
  /** The unit's connection is up. */
  isAttached(unit: string): boolean;
  isSubscribed(ref: TagRef): boolean;
  /** Local names of the unit's `mode: subscribe` tags. */
  subscribedTags(unit: string): readonly string[];
  /** The tag's `maxAge`, if it has one. */
  maxAgeOf(id: TagId): number | undefined;
  /**
   * What the consumers last saw, for display only (the status page's tag table): per tag, the
   * last reading handed out by `read`, bad ones with their reason. Tags nobody reads are absent.
   * No decision is ever taken on it.
   */
  latest(): ReadonlyMap<TagId, Reading>;
}

export interface TagIOOptions {
  units: readonly UnitConfig[];
  clock: Clock;
  log: Log;
  link(unit: string): TagLink | undefined;
  /** The generation of the unit's current connection while it is connected; undefined otherwise. */
  connection(unit: string): number | undefined;
  /** The image of the unit's pushed values while its subscription runs. */
  pushed(unit: string): PushedImage | undefined;
  /** A link-level failure showed up in a read or a write on the current connection. */
  onLinkFailure(unit: string, error: PlantbridgeError): void;
}

export function createTagIO(options: TagIOOptions): TagIO {
  const { clock, log } = options;
  const { units, maxAges } = indexPlantTags(options.units);
  const latest = new Map<TagId, Reading>();
  const stamp = (): ReadingStamp => ({ time: clock.wall(), receivedAt: clock.monotonic() });
  const bad = (reason: string): Reading => ({ value: null, quality: "bad", reason, ...stamp() });

  function reportLinkFailure(unit: string, generation: number, error: PlantbridgeError): void {
    // A late failure of a call made on an earlier connection must not fault the current one.
    if (options.connection(unit) !== generation) return;
    try {
      options.onLinkFailure(unit, error);
    } catch (e) {
      log.error({ unit, reason: errorMessage(e) }, "link failure listener threw");
    }
  }

  async function readUnit(unit: string, tags: readonly string[]): Promise<Map<TagId, Reading>> {
    const into = new Map<TagId, Reading>();
    const known = units.get(unit);
    const put = (tag: string, reading: Reading) => {
      const id = known?.ids.get(tag) ?? tagId({ unit, tag });
      into.set(id, reading);
      latest.set(id, reading);
    };
    const generation = options.connection(unit);
    const link = options.link(unit);
    if (known === undefined) {
      for (const tag of tags) put(tag, bad(`unknown unit ${unit}`));
      return into;
    }
    if (generation === undefined || link === undefined) {
      for (const tag of tags) put(tag, bad(`unit ${unit} not connected`));
      return into;
    }
    const polled: string[] = [];
    for (const tag of tags) {
      const config = known.tags.get(tag);
      if (config === undefined) put(tag, bad(`unknown tag ${unit}.${tag}`));
      else if (isSubscribedTag(config)) put(tag, pushedReading(options.pushed(unit), unit, tag, stamp()));
      else polled.push(tag);
    }
    if (polled.length === 0) return into;
    try {
      const readings = await link.read(polled);
      for (const tag of polled) put(tag, readings.get(tag) ?? bad(`${unit} returned no value for ${tag}`));
    } catch (e) {
      const error = asPlantbridgeError(e, ErrorCode.LINK_LOST, { unit });
      for (const tag of polled) put(tag, bad(errorMessage(e)));
      if (isLinkFailure(e)) reportLinkFailure(unit, generation, error);
    }
    return into;
  }

  function checkWrite(ref: TagRef, value: TagValue): { link: TagLink; generation: number } {
    checkWriteAllowed(units.get(ref.unit)?.tags.get(ref.tag), ref, value);
    const generation = options.connection(ref.unit);
    const link = options.link(ref.unit);
    if (generation === undefined || link === undefined)
      throw new PlantbridgeError(ErrorCode.NOT_CONNECTED, `unit ${ref.unit} not connected`, ref);
    return { link, generation };
  }

  return {
    readUnit,
    async read(refs) {
      const parts = await Promise.all([...tagsByUnit(refs)].map(([unit, tags]) => readUnit(unit, tags)));
      const readings = new Map<TagId, Reading>();
      for (const part of parts) for (const [id, reading] of part) readings.set(id, reading);
      return readings;
    },
    async write(ref, value) {
      const { link, generation } = checkWrite(ref, value);
      try {
        await link.write(ref.tag, value);
      } catch (e) {
        const error = asPlantbridgeError(e, ErrorCode.LINK_LOST, ref);
        if (isLinkFailure(e)) reportLinkFailure(ref.unit, generation, error);
        throw error;
      }
    },
    isAttached: (unit) => options.connection(unit) !== undefined,
    isSubscribed(ref) {
      const config = units.get(ref.unit)?.tags.get(ref.tag);
      return config !== undefined && isSubscribedTag(config);
    },
    subscribedTags: (unit) => units.get(unit)?.subscribed ?? [],
    maxAgeOf: (id) => maxAges.get(id),
    latest: () => latest,
  };
}
