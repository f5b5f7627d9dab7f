/**
 * `plantbridge read --watch`: each unit's tags followed until Ctrl-C, one line per change (value,
 * quality or reason). Modbus units are polled every interval, all tags of a unit in one planned
 * read; OPC UA units are subscribed (the server pushes each change, sampled at the interval).
 * A lost link is shown as bad readings with the reason, and the unit is connected again after
 * the interval, as often as it takes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Reading, UnitLink } from "../../adapters/types.ts";
import { errorMessage } from "../../lib/errors.ts";
import type { UnitConfig } from "../../schemas/plant-types.ts";
import type { NamedTag } from "./command-line.ts";
import { changed, type TagReading } from "./reading-format.ts";
import { type Commissioning, createLink } from "./unit-links.ts";

export interface WatchOptions {
  intervalMs: number;
  signal: AbortSignal;
  /** Called with every reading that differs from the last one printed for its tag. */
  print(reading: TagReading): void;
}

/** Follows every unit's tags until the signal aborts. */
export async function watchTags(
  groups: ReadonlyMap<UnitConfig, NamedTag[]>,
  context: Commissioning,
  options: WatchOptions,
): Promise<void> {
  const last = new Map<string, Reading>();
  const show = (tag: NamedTag, reading: Reading) => {
    if (!changed(last.get(tag.id), reading)) return;
    last.set(tag.id, reading);
    options.print({
      id: tag.id,
      reading,
      ...(tag.tag.engineeringUnit !== undefined ? { engineeringUnit: tag.tag.engineeringUnit } : {}),
    });
  };
  await Promise.all([...groups].map(([unit, tags]) => watchUnit(unit, tags, context, options, show)));
}

/** With `--interval`, OPC UA tags are sampled at that interval instead of their own. */
function sampledAt(unit: UnitConfig, intervalMs: number): UnitConfig {
  if (unit.protocol !== "opcua") return unit;
  return { ...unit, tags: unit.tags.map((t) => ({ ...t, samplingIntervalMs: intervalMs })) };
}

async function watchUnit(
  unit: UnitConfig,
  tags: readonly NamedTag[],
  context: Commissioning,
  options: WatchOptions,
  show: (tag: NamedTag, reading: Reading) => void,
): Promise<void> {
  const byName = new Map(tags.map((t) => [t.tag.name, t]));
  const names = [...byName.keys()];
  const { signal } = options;
  while (!signal.aborted) {
    const link = await createLink(sampledAt(unit, options.intervalMs), context);
    try {
      await link.connect();
      const lost = new Promise<Error>((resolve) => link.onLost(resolve));
      const ended = await follow(link, names, options, lost, (name, reading) => {
        const tag = byName.get(name);
        if (tag !== undefined) show(tag, reading);
      });
      if (ended !== undefined) throw ended;
    } catch (e) {
      const bad: Reading = {
        value: null,
        quality: "bad",
        reason: errorMessage(e),
        time: Date.now(),
        receivedAt: performance.now(),
      };
      for (const tag of tags) show(tag, bad);
    } finally {
      await link.close();
    }
    // Connect again after the interval, but not more often than once a second.
    await sleep(Math.max(options.intervalMs, 1000), undefined, { signal }).catch(() => undefined);
  }
}

/** Reads (Modbus) or subscribes (OPC UA) until aborted (undefined) or the link is lost (its error). */
async function follow(
  link: UnitLink,
  names: readonly string[],
  options: WatchOptions,
  lost: Promise<Error>,
  show: (name: string, reading: Reading) => void,
): Promise<Error | undefined> {
  const { signal } = options;
  const aborted = new Promise<undefined>((resolve) => {
    if (signal.aborted) resolve(undefined);
    signal.addEventListener("abort", () => resolve(undefined), { once: true });
  });
  if (link.subscribe !== undefined) {
    let endSubscription: (error: Error) => void = () => {};
    const subscriptionEnded = new Promise<Error>((resolve) => {
      endSubscription = resolve;
    });
    const subscription = await link.subscribe(names, {
      reading: show,
      alive: () => {},
      ended: (reason) => endSubscription(new Error(`the server ended the subscription: ${reason}`)),
    });
    const ended = await Promise.race([lost, aborted, subscriptionEnded]);
    await subscription.close();
    return ended;
  }
  let lostError: Error | undefined;
  void lost.then((e) => {
    lostError = e;
  });
  while (!signal.aborted && lostError === undefined) {
    const readings = await link.read(names);
    for (const [name, reading] of readings) show(name, reading);
    await Promise.race([sleep(options.intervalMs, undefined, { signal }).catch(() => undefined), lost]);
  }
  return lostError;
}
