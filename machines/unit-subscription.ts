/**
 * The subscription of one connected unit's `mode: subscribe` tags (OPC UA monitored items).
 * Pushed readings go into the tag I/O and are announced to the parent (`TAG_PUSHED`) so loops
 * that evaluate on change can run. A subscribe that fails at link level is reported
 * (`LINK_FAILURE`) so the connection faults and the next connect subscribes again.
 */
import { fromCallback } from "xstate";
import type { Reading, UnitLink, Unsubscribe } from "../adapters/types.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import { ErrorCode, errorMessage } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import { asPlantbridgeError, isLinkFailure } from "./link-failure.ts";

export interface UnitSubscriptionInput {
  unit: string;
  link: Pick<UnitLink, "subscribe">;
  tags: readonly string[];
  update(unit: string, tag: string, reading: Reading): void;
  log: Log;
}

export type SubscriptionNotice =
  | { type: "TAG_PUSHED"; unit: string; tag: string }
  | { type: "LINK_FAILURE"; unit: string; error: PlantbridgeError };

export const unitSubscription = fromCallback<{ type: "NONE" }, UnitSubscriptionInput>(
  ({ input, sendBack }) => {
    const { unit, link, tags, log } = input;
    let active = true;
    let unsubscribe: Unsubscribe | undefined;
    const release = (u: Unsubscribe) =>
      u().catch((e: unknown) => log.debug({ unit, reason: errorMessage(e) }, `${unit} unsubscribe failed`));

    if (link.subscribe === undefined) {
      log.error({ unit, tags }, `${unit} cannot push values: its subscribed tags stay bad`);
      return;
    }
    link
      .subscribe(tags, (tag, reading) => {
        if (!active) return;
        input.update(unit, tag, reading);
        sendBack({ type: "TAG_PUSHED", unit, tag });
      })
      .then((u) => {
        if (active) unsubscribe = u;
        else void release(u);
      })
      .catch((e: unknown) => {
        if (!active) return;
        const error = asPlantbridgeError(e, ErrorCode.LINK_LOST, { unit });
        if (isLinkFailure(e)) {
          sendBack({ type: "LINK_FAILURE", unit, error });
        } else {
          log.error(
            { unit, reason: errorMessage(e) },
            `${unit} subscription refused, its subscribed tags stay bad`,
          );
        }
      });
    return () => {
      active = false;
      if (unsubscribe !== undefined) void release(unsubscribe);
    };
  },
);
