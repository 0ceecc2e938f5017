import type { ChangeEvent } from '../../events/envelope.js';
import type { JsonObject, JsonPrimitive } from '../../events/json.js';
import type { VersionInventory } from '../../common/version-digest.js';
import type { CheckpointStore, HealthCheck } from '../../transports/transport.js';

/** A read-model document with its replication metadata. A tombstone has `deleted: true` and `data: null`. */
export interface StoredDocument {
  readonly collection: string;
  readonly key: string;
  readonly version: bigint;
  readonly deleted: boolean;
  readonly data: JsonObject | null;
  readonly eventId: string;
  readonly source: string;
  /** When this version was applied to the read model (ISO-8601). */
  readonly appliedAt: string;
}

/** The expected outcomes of applying one event. Infrastructure failures are thrown instead. */
export type ApplyOutcome =
  | { readonly status: 'applied' }
  | { readonly status: 'skipped'; readonly reason: 'stale' | 'duplicate' };

/**
 * Applies change events to the read model, gated by version.
 *
 * - An event is applied only when `stored.version < event.version` (or nothing is stored). An equal
 *   version is skipped as `duplicate`, a lower one as `stale`; either way nothing changes.
 * - A delete writes a tombstone `{ key, version, deleted: true }`, so a late older upsert cannot bring
 *   the row back.
 * - Events are applied in the order given; several events for one key in a batch are fine.
 * - Resolves only when every applied event is durable.
 * - Throws `StoreUnavailableError` when the store could not take the batch now (connection lost,
 *   timeout, failover, serialization failure, deadlock): "retry the whole batch", which the gate makes
 *   harmless. Throws `StoreRefusedError` when the store refused what an event holds: retrying would
 *   fail for ever, so the caller splits the batch to find the event. Each adapter decides which by
 *   its driver's error codes (`postgres-errors.ts`, `mongodb-errors.ts`).
 * - The SQL stores apply a batch atomically (nothing of a refused batch is written); MongoDB applies
 *   operation by operation, so part of a failed batch may be written. Either way, applying the same
 *   events again is harmless.
 */
export interface ReadModelWriter {
  applyBatch(events: readonly ChangeEvent[]): Promise<ApplyOutcome[]>;
}

/**
 * Top-level `data` fields and the values they must equal exactly (an array field never matches a
 * primitive). A list gives alternatives: the field matches when it equals any of them.
 */
export type FieldFilter = Readonly<Record<string, JsonPrimitive | readonly JsonPrimitive[]>>;

/** Reads the read model. Tombstones are hidden unless `includeDeleted` is set. */
export interface ReadModelReader {
  get(collection: string, key: string, options?: { includeDeleted?: boolean }): Promise<StoredDocument | undefined>;
  /**
   * Documents whose top-level `data` fields equal the filter, ordered by key (code point order), at
   * most `limit`. Throws `TweetbusError` `store.invalid` for a field that could not be a document key.
   */
  find(collection: string, filter: FieldFilter, options: { limit: number }): Promise<StoredDocument[]>;
}

/**
 * What `npm run verify` reads of the read model: the live documents of one collection as (key,
 * version), in bucket digests and by bucket (common/version-digest.ts). Tombstones count as absent.
 */
export interface ReadModelInventory {
  inventory(collection: string): VersionInventory;
}

/** A message that could not be parsed or validated, kept with its raw text so nothing is lost. */
export interface DeadLetter {
  readonly messageId: string;
  readonly transport: string;
  readonly text: string;
  readonly reason: string;
  readonly author?: { readonly id: string; readonly username?: string | undefined } | undefined;
  readonly receivedAt: string;
}

export interface DeadLetterStore {
  /** Stores a rejected message. Storing the same `messageId` twice keeps one letter. */
  putDeadLetter(letter: DeadLetter): Promise<void>;
  listDeadLetters(options: { limit: number }): Promise<DeadLetter[]>;
}

/**
 * Everything the consumer keeps: read model, checkpoints and dead letters, in one database so a
 * single client serves them. Adapters: embedded (PGlite), PostgreSQL, MongoDB.
 * `close()` releases only what the adapter created; twice is harmless.
 */
export interface ReadModelStore extends ReadModelWriter, ReadModelReader, ReadModelInventory, CheckpointStore, DeadLetterStore, HealthCheck {
  close(): Promise<void>;
}
