/**
 * The push machine's actor: holds one subscription of the unit's pushed tags while invoked and
 * closes it when stopped. Readings are batched per turn (one `PUSHED` per publish response);
 * keep-alives report `ALIVE`; a refusal says whether the link itself failed.
 */
import { fromCallback } from "xstate";
import type { PushListener, PushSubscription, Reading } from "../adapters/types.ts";
import { ErrorCode, errorMessage, PlantbridgeError } from "../lib/errors.ts";
import { asPlantbridgeError, isLinkFailure } from "./link-failure.ts";
import type { PushEvent, PushInput } from "./push-context.ts";

/** Holds one subscription while invoked; closes it when stopped. Readings are batched per turn. */
export const holdSubscription = fromCallback<PushEvent, PushInput>(({ input, sendBack }) => {
  const { unit, link, tags, log } = input;
  let stopped = false;
  let subscription: PushSubscription | undefined;
  let batch: [string, Reading][] = [];
  const flush = () => {
    const readings = batch;
    batch = [];
    if (!stopped && readings.length > 0) sendBack({ type: "PUSHED", readings });
  };
  const close = (s: PushSubscription) =>
    s
      .close()
      .catch((e: unknown) => log.debug({ unit, reason: errorMessage(e) }, `${unit} unsubscribe failed`));
  const listener: PushListener = {
    reading(tag, reading) {
      if (stopped) return;
      if (batch.length === 0) queueMicrotask(flush);
      batch.push([tag, reading]);
    },
    alive: () => {
      if (!stopped) sendBack({ type: "ALIVE" });
    },
    ended: (reason) => {
      if (!stopped) sendBack({ type: "ENDED", reason });
    },
  };
  if (link.subscribe === undefined) {
    const error = new PlantbridgeError(ErrorCode.UNSUPPORTED, `${unit} cannot push values`, { unit });
    queueMicrotask(() => sendBack({ type: "REFUSED", error, linkFailure: false }));
    return () => {
      stopped = true;
    };
  }
  link.subscribe(tags, listener).then(
    (s) => {
      if (stopped) void close(s);
      else {
        subscription = s;
        sendBack({ type: "SUBSCRIBED", silenceLimitMs: s.silenceLimitMs });
      }
    },
    (e: unknown) => {
      if (stopped) return;
      const error = asPlantbridgeError(e, ErrorCode.LINK_LOST, { unit });
      sendBack({ type: "REFUSED", error, linkFailure: isLinkFailure(e) });
    },
  );
  return () => {
    stopped = true;
    if (subscription !== undefined) void close(subscription);
  };
});
