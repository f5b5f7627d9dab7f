/**
 * Types shared by the control machine and its pure decision helper.
 */
import type { Reading, TagValue } from "../adapters/types.ts";
import type { PlantbridgeError } from "../lib/errors.ts";
import type { TagId, TagRef } from "../schemas/plant-types.ts";

/**
 * Result of a loop's transform (demand → set point). Structurally the minimum of
 * `calibration/transform.ts`'s `TransformResult`, which is assignable to it.
 */
export type TransformResult =
  | { ok: true; value: number; rule: string; clamped: boolean }
  | { ok: false; error: PlantbridgeError };

export type LoopTransform = (input: number) => TransformResult;

/** What a control loop needs of the tag I/O: a `TagIO` fits. */
export interface ControlIO {
  read(refs: readonly TagRef[]): Promise<Map<TagId, Reading>>;
  write(ref: TagRef, value: TagValue): Promise<void>;
  isAttached(unit: string): boolean;
  isSubscribed(ref: TagRef): boolean;
  maxAgeOf(id: TagId): number | undefined;
}

/** Following the input: the transform's result for it. */
export interface FollowDecision {
  kind: "follow";
  value: number;
  input: number;
  rule: string;
  clamped: boolean;
}

/** What a loop decided at one evaluation. Only `follow` and `fail-safe` carry a value to write. */
export type ControlDecision =
  | FollowDecision
  | { kind: "permissive-off"; reason: string }
  | { kind: "hold"; reason: string }
  | { kind: "fail-safe"; value: number; reason: string };

/** What the loop remembers between evaluations for its fail-safe timer. */
export interface LoopMemory {
  /** Time of the first evaluation in the current run of bad input; null while the input is good. */
  badSince: number | null;
  failSafeActive: boolean;
  /** The transform refused the last input (logged once per run). */
  transformFailing: boolean;
  /** The follow decision the set point stands on (the deadband is measured from its input). */
  followed: FollowDecision | null;
}
