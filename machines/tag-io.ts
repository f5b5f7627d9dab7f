/**
 * The process image between the units and their consumers (control loops, storage).
 * Reads are grouped per unit (one `link.read` per unit, units in parallel); subscribed tags
 * are served from the latest reading the unit pushed; writes are checked against the
 * configuration again before they reach the link (defence in depth). A unit that is not
 * attached (not connected) gives bad readings and refuses writes; nothing fails silently.
 */

import type { Reading, TagValue, UnitLink } from "../adapters/types.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import type { TagConfig, TagId, TagRef, UnitConfig } from "../schemas/plant-types.ts";
import { tagId } from "../schemas/plant-types.ts";
import { asPlantbridgeError, isLinkFailure } from "./link-failure.ts";

/** What the tag I/O needs of a link: a UnitLink fits. */
export type TagLink = Pick<UnitLink, "read" | "write">;

export interface TagIO {
  /** The unit's link carries requests (its connection went `connected`). */
  attach(unit: string, link: TagLink): void;
  /** The unit's link is gone: reads give bad readings, writes are refused, pushed readings are forgotten. */
  detach(unit: string): void;
  isAttached(unit: string): boolean;
  /** One reading per requested tag, always: failures become bad readings with a reason. */
  read(refs: readonly TagRef[]): Promise<Map<TagId, Reading>>;
  /** Writes one value; rejects with a coded PlantbridgeError naming unit and tag. */
  write(ref: TagRef, value: TagValue): Promise<void>;
  /** A reading pushed by the unit's subscription (OPC UA `mode: subscribe`). */
  update(unit: string, tag: string, reading: Reading): void;
  /** Local names of the unit's `mode: subscribe` tags. */
  subscribedTags(unit: string): readonly string[];
  isSubscribed(ref: TagRef): boolean;
  /**
   * The process image as its consumers last saw it: per tag, the last reading handed out by
   * `read` or pushed by the unit (bad ones with their reason). Tags nobody reads are absent.
   */
  latest(): ReadonlyMap<TagId, Reading>;
}

export interface TagIOOptions {
  units: readonly UnitConfig[];
  now: () => number;
  log: Log;
  /** Called when a link-level failure shows up in a read or a write, so the connection can fault. */
  onLinkFailure?: (unit: string, error: PlantbridgeError) => void;
}

interface UnitImage {
  config: UnitConfig;
  tags: ReadonlyMap<string, TagConfig>;
  subscribed: readonly string[];
  link: TagLink | undefined;
  /**
   * Counts attaches and detaches. A unit keeps its link object across reconnects, so a late failure of a
   * call made on an earlier connection is recognised by its generation, not by the link object.
   */
  generation: number;
  /** Latest pushed reading per subscribed tag, while attached. */
  pushed: Map<string, Reading>;
}

function isSubscribedTag(tag: TagConfig): boolean {
  return "mode" in tag && tag.mode === "subscribe";
}

function bad(reason: string, time: number): Reading {
  return { value: null, quality: "bad", reason, time };
}

export function createTagIO(options: TagIOOptions): TagIO {
  const { now, log } = options;
  const images = new Map<string, UnitImage>();
  const latest = new Map<TagId, Reading>();
  for (const unit of options.units) {
    const tags = new Map<string, TagConfig>(unit.tags.map((t) => [t.name, t]));
    const subscribed = unit.tags.filter(isSubscribedTag).map((t) => t.name);
    images.set(unit.name, {
      config: unit,
      tags,
      subscribed,
      link: undefined,
      generation: 0,
      pushed: new Map(),
    });
  }

  function reportLinkFailure(unit: string, error: PlantbridgeError): void {
    try {
      options.onLinkFailure?.(unit, error);
    } catch (e) {
      log.error({ unit, reason: errorMessage(e) }, "link failure listener threw");
    }
  }

  async function readUnit(unit: string, tags: readonly string[], into: Map<TagId, Reading>): Promise<void> {
    const image = images.get(unit);
    const put = (tag: string, reading: Reading) => {
      const id = tagId({ unit, tag });
      into.set(id, reading);
      latest.set(id, reading);
    };
    if (image === undefined) {
      for (const tag of tags) put(tag, bad(`unknown unit ${unit}`, now()));
      return;
    }
    const link = image.link;
    if (link === undefined) {
      for (const tag of tags) put(tag, bad(`unit ${unit} not connected`, now()));
      return;
    }
    const polled: string[] = [];
    for (const tag of tags) {
      const config = image.tags.get(tag);
      if (config === undefined) put(tag, bad(`unknown tag ${unit}.${tag}`, now()));
      else if (isSubscribedTag(config))
        put(tag, image.pushed.get(tag) ?? bad(`no value pushed yet by ${unit}.${tag}`, now()));
      else polled.push(tag);
    }
    if (polled.length === 0) return;
    const generation = image.generation;
    try {
      const readings = await link.read(polled);
      for (const tag of polled)
        put(tag, readings.get(tag) ?? bad(`${unit} returned no value for ${tag}`, now()));
    } catch (e) {
      const error = asPlantbridgeError(e, ErrorCode.LINK_LOST, { unit });
      const reason = errorMessage(e);
      for (const tag of polled) put(tag, bad(reason, now()));
      // A read that rejects is a link failure by the UnitLink contract.
      if (image.generation === generation) reportLinkFailure(unit, error);
    }
  }

  function checkWrite(ref: TagRef, value: TagValue): { image: UnitImage; link: TagLink } {
    const image = images.get(ref.unit);
    const config = image?.tags.get(ref.tag);
    if (image === undefined || config === undefined)
      throw new PlantbridgeError(ErrorCode.UNKNOWN_TAG, "no such tag in the plant", ref);
    if (config.writable === undefined)
      throw new PlantbridgeError(ErrorCode.NOT_WRITABLE, "tag is not declared writable", ref);
    const number = typeof value === "boolean" ? Number(value) : value;
    const { min, max } = config.writable;
    if (!Number.isFinite(number) || number < min || number > max)
      throw new PlantbridgeError(
        ErrorCode.OUT_OF_LIMITS,
        `${value} is outside the limits [${min}, ${max}]`,
        ref,
      );
    if (image.link === undefined)
      throw new PlantbridgeError(ErrorCode.NOT_CONNECTED, `unit ${ref.unit} not connected`, ref);
    return { image, link: image.link };
  }

  return {
    attach(unit, link) {
      const image = images.get(unit);
      if (image === undefined) {
        log.error({ unit }, `attach of unknown unit ${unit} ignored`);
        return;
      }
      image.link = link;
      image.generation += 1;
      image.pushed.clear();
    },
    detach(unit) {
      const image = images.get(unit);
      if (image === undefined) return;
      image.link = undefined;
      image.generation += 1;
      image.pushed.clear();
    },
    isAttached(unit) {
      return images.get(unit)?.link !== undefined;
    },
    async read(refs) {
      const byUnit = new Map<string, string[]>();
      for (const ref of refs) {
        const tags = byUnit.get(ref.unit);
        if (tags === undefined) byUnit.set(ref.unit, [ref.tag]);
        else if (!tags.includes(ref.tag)) tags.push(ref.tag);
      }
      const readings = new Map<TagId, Reading>();
      await Promise.all([...byUnit].map(([unit, tags]) => readUnit(unit, tags, readings)));
      return readings;
    },
    async write(ref, value) {
      const { image, link } = checkWrite(ref, value);
      const generation = image.generation;
      try {
        await link.write(ref.tag, value);
      } catch (e) {
        const error = asPlantbridgeError(e, ErrorCode.LINK_LOST, ref);
        if (isLinkFailure(e) && image.generation === generation) reportLinkFailure(ref.unit, error);
        throw error;
      }
    },
    update(unit, tag, reading) {
      const image = images.get(unit);
      if (image === undefined || image.link === undefined) return;
      if (!image.subscribed.includes(tag)) return;
      image.pushed.set(tag, reading);
      latest.set(tagId({ unit, tag }), reading);
    },
    subscribedTags(unit) {
      return images.get(unit)?.subscribed ?? [];
    },
    isSubscribed(ref) {
      const config = images.get(ref.unit)?.tags.get(ref.tag);
      return config !== undefined && isSubscribedTag(config);
    },
    latest: () => latest,
  };
}
