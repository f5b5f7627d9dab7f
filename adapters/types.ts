/**
 * The narrow interfaces between plantbridge's machines and the outside world.
 * Adapters implement them; machines only ever see these types, so tests can
 * drive machines with fakes and the same machines run against real units.
 */
import type { ErrorCode, PlantbridgeError } from "../lib/errors.ts";
import type { TagId } from "../schemas/plant-types.ts";

export type TagValue = number | boolean;

export type Quality = "good" | "bad";

/** One value as a unit served it (or failed to). */
export interface Reading {
  /** Engineering value (after scale/offset); null when quality is bad. */
  value: TagValue | null;
  quality: Quality;
  /** Why the value is bad, e.g. "Modbus exception 2 (illegal data address)", "BadNodeIdUnknown". */
  reason?: string;
  /** The coded error behind a bad value, where the adapter knows it (PB_ERR_MODBUS_EXCEPTION, …). */
  code?: ErrorCode;
  /**
   * Epoch ms (wall clock) when the unit produced the value (its source timestamp) or plantbridge
   * received it: shown and logged, never used to judge an age.
   */
  time: number;
  /** Monotonic ms (`Clock.monotonic`) when plantbridge received it: every age and staleness counts from here. */
  receivedAt: number;
}

/** When a reading was taken: the wall-clock stamp and the monotonic receive time. */
export type ReadingStamp = Pick<Reading, "time" | "receivedAt">;

/**
 * One stored sample. Its identity is (tag, time): the forwarder and the historian are
 * idempotent on it, so a replay after a crash inserts nothing twice.
 */
export interface Sample {
  /** `UNIT.tag` */
  tag: TagId;
  /** Epoch ms of the storage cycle that took it (the scheduled, drift-free cycle time). */
  time: number;
  value: TagValue | null;
  quality: Quality;
  reason?: string;
}

/** What a unit's subscription tells plantbridge. */
export interface PushListener {
  /** A value (or a bad status) the unit pushed for one local tag. */
  reading(tag: string, reading: Reading): void;
  /** The subscription showed life: a publish response (data or keep-alive) reached plantbridge. */
  alive(): void;
  /**
   * The server ended the subscription (terminated it, or reported it Bad) while the link itself
   * lives: its values are no longer kept up to date. Subscribe again.
   */
  ended(reason: string): void;
}

/** A live subscription of some of a unit's tags. */
export interface PushSubscription {
  /**
   * Silence (no publish response, no keep-alive) longer than this means the subscription is dead:
   * the server's keep-alive count × its publishing interval, plus a margin.
   */
  readonly silenceLimitMs: number;
  /** Deletes the subscription on the server; bounded; idempotent. */
  close(): Promise<void>;
}

/**
 * A link to one unit (one PLC). It does I/O and reports what happened; it never retries
 * or reconnects by itself — the connection machine decides that.
 *
 * - `connect()` resolves when the link can carry requests, rejects with a coded error,
 *   and never takes longer than the unit's timeout.
 * - `read()` returns one Reading per requested local tag name. A failure that concerns
 *   some tags only (Modbus exception, OPC UA Bad status), or a whole request the unit refused
 *   at service level (e.g. OPC UA BadTooManyOperations), gives those tags bad quality with a
 *   reason; only a failure of the link itself (timeout, socket closed, session gone) rejects
 *   AND emits `lost`. `write()` classifies the same way: a refusal rejects with a tag-level
 *   code, a link failure with a link-level one (machines/link-failure.ts).
 * - `write()` refuses tags that are not writable and values outside the tag's limits
 *   (PB_ERR_NOT_WRITABLE, PB_ERR_OUT_OF_LIMITS) before anything is sent.
 * - `subscribe()` exists where the protocol can push (OPC UA); Modbus links have none. It rejects
 *   with a link-level error when the link is gone, with another coded error when the server refuses
 *   the subscription (the caller retries with backoff while the link lives).
 * - `onLost()` fires at most once per connection when the link is detected dead
 *   (socket close, request timeout, keep-alive failure). After it, call `close()` and `connect()` again.
 */
export interface UnitLink {
  readonly unit: string;
  connect(): Promise<void>;
  read(tags: readonly string[]): Promise<Map<string, Reading>>;
  write(tag: string, value: TagValue): Promise<void>;
  subscribe?(tags: readonly string[], listener: PushListener): Promise<PushSubscription>;
  close(): Promise<void>;
  onLost(listener: (error: PlantbridgeError) => void): () => void;
}

/** A sample as it sits in the spool: with its spool sequence number (append order). */
export interface SpooledSample extends Sample {
  seq: number;
}

export interface SpoolStats {
  /** Samples in the spool not yet delivered, per sink. */
  pending: Record<string, number>;
  /** Samples held in the spool file. */
  held: number;
  /** Samples dropped because the spool was full (oldest first). Never silent: logged and exposed. */
  dropped: number;
  /** Samples a sink rejected, kept in the dead-letter table. */
  deadLettered: number;
}

/**
 * The store-and-forward spool (node:sqlite, WAL). Samples enter in order and leave per sink
 * in the same order; each sink has its own delivery cursor.
 */
export interface Spool {
  /** Appends in one transaction; returns the sequence number of the last sample. Synchronous. */
  append(samples: readonly Sample[]): number;
  /**
   * Up to `limit` samples after the sink's cursor, in append order. With `after` (at or past the
   * cursor): the samples after that seq instead — reading ahead while earlier batches are still on
   * their way to the sink (not yet acked).
   */
  readBatch(sink: string, limit: number, after?: number): SpooledSample[];
  /** Moves the sink's cursor to `seq` (inclusive): those samples are delivered. */
  ack(sink: string, seq: number): void;
  /** Keeps rejected samples in the dead-letter table with the reason, and acks them. */
  deadLetter(sink: string, samples: readonly SpooledSample[], reason: string): void;
  stats(): SpoolStats;
  close(): void;
}

/** Tag metadata the historian keeps in its `tags` table. */
export interface TagInfo {
  id: TagId;
  unit: string;
  engineeringUnit?: string;
  description?: string;
}

/**
 * A sample the sink did not store because the historian already holds a different value at its
 * (tag, time) — e.g. after the wall clock stepped back, or in the repeated hour of a local-time
 * table. The stored value is never overwritten; the caller keeps the sample as a dead letter.
 */
export interface SampleConflict {
  sample: SpooledSample;
  /** Names the tag, the time, the stored value and the new one. */
  reason: string;
}

/** What a sink's `write()` could not store although the batch was committed. */
export interface SinkWrite {
  conflicts: readonly SampleConflict[];
}

/**
 * Where the forwarder delivers samples. PostgreSQL is the first; an MQTT/Sparkplug B sink can
 * follow with the same interface and its own cursor in the spool.
 * `write()` is one transaction, idempotent on (tag, time): a replayed sample (same value and
 * quality) is a no-op; a sample whose (tag, time) already holds a different value is not stored
 * and comes back in `conflicts` (the rest of the batch is committed). It rejects with
 * PB_ERR_HISTORIAN_UNAVAILABLE when the sink cannot be reached (retry later, same batch) and
 * with PB_ERR_HISTORIAN_REJECTED when the sink refuses the data itself (split and dead-letter).
 */
export interface HistorianSink {
  readonly name: string;
  /**
   * How many `write()` calls may be in flight at once (default 1). Each is its own transaction;
   * they may commit in any order, so the caller acks each batch only after its own commit and
   * every earlier batch's (machines/pipeline.ts).
   */
  readonly pipelineDepth?: number;
  /** Connects and creates the schema/tables on first start; registers the tags. */
  open(tags: readonly TagInfo[]): Promise<void>;
  write(batch: readonly SpooledSample[]): Promise<SinkWrite>;
  /** True when the sink is reachable (a cheap round trip). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
