import type { Logger } from '../../../common/logger.js';
import {
  Long,
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  type Filter,
} from 'mongodb';
import { z } from 'zod';
import { StoreUnavailableError, toStoreError } from '../../../common/errors.js';
import { bucketOf, digestBuilder, type KeyVersion, type VersionInventory } from '../../../common/version-digest.js';
import type { ChangeEvent } from '../../../events/envelope.js';
import { isJsonObject } from '../../../events/json.js';
import type { ApplyOutcome, DeadLetter, FieldFilter, ReadModelStore, StoredDocument } from '../read-model-store.js';
import {
  assertSafeFilter,
  clampLimit,
  filterAlternatives,
  type IndexedEvent,
  isReadModelCollectionName,
  isStorableKey,
  outcomesInOrder,
  skippedOutcome,
  splitIntoRounds,
  storableText,
  visibleDocument,
} from '../read-model-rules.js';
import { classifyMongoError } from './mongodb-errors.js';

export type MongoReadModelConnection = { readonly client: MongoClient } | { readonly url: string };

export interface MongoReadModelStoreOptions {
  readonly database: string;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/** One read-model document as MongoDB holds it. A tombstone has `deleted: true` and `data: null`. */
export interface MongoReadModelDocument {
  _id: string;
  version: Long;
  deleted: boolean;
  data: Document | null;
  eventId: string;
  source: string;
  appliedAt: Date;
}

interface MongoCheckpoint {
  _id: string;
  position: string;
  updatedAt: Date;
}

interface MongoDeadLetter {
  messageId: string;
  transport: string;
  text: string;
  reason: string;
  authorId: string | null;
  authorUsername: string | null;
  receivedAt: Date;
  storedAt: Date;
}

/** Collection names a decoder can produce start with a letter, so these can never collide with one. */
export const checkpointsCollection = '_checkpoints';
export const deadLettersCollection = '_deadletters';

const duplicateKeyCode = 11000;
/** How often one event is retried when a concurrent writer inserted its key first. */
const maxGateAttempts = 5;
/** Versions come back as `bigint`, whatever client options the caller chose. */
const readOptions = { useBigInt64: true } as const;
const writeConcern = { w: 'majority' } as const;

/**
 * The read model in MongoDB: one collection per read-model collection, documents keyed by `_id`.
 *
 * The version gate is an upsert whose filter is `{ _id: key, version: { $lt: version } }`. When the
 * stored version is lower, it matches and replaces; when nothing is stored, it inserts; when the
 * stored version is equal or higher, the filter misses, the upsert tries to insert a second `_id`
 * and the server answers E11000. So E11000 means "skipped", and reading the stored version tells
 * duplicate from stale.
 *
 * Bulk writes are unordered but each one holds at most one operation per key (rounds, as in the SQL
 * store), so per-key order is kept and one E11000 does not stop the other operations.
 *
 * Given `{ client }` the store never closes it (one client per process, owned by `main.ts`); given
 * `{ url }` it creates a client and closes it on `close()`.
 */
export async function createMongoReadModelStore(
  connection: MongoReadModelConnection,
  options: MongoReadModelStoreOptions,
): Promise<ReadModelStore> {
  const owned = !('client' in connection);
  const client = 'client' in connection ? connection.client : new MongoClient(connection.url);
  const now = options.now ?? (() => new Date());
  const db = client.db(options.database);
  const checkpoints = db.collection<MongoCheckpoint>(checkpointsCollection);
  const deadLetters = db.collection<MongoDeadLetter>(deadLettersCollection);
  const documents = (collection: string): Collection<MongoReadModelDocument> => db.collection<MongoReadModelDocument>(collection);

  try {
    await guard('create the dead-letter index', () =>
      deadLetters.createIndex({ messageId: 1, transport: 1 }, { unique: true, name: 'messageId_transport' }, undefined),
    );
  } catch (err) {
    if (owned) await client.close();
    throw err;
  }

  /** Applies one round (at most one event per key) for one collection; fills `outcomes`. */
  async function applyRound(collection: string, round: readonly IndexedEvent[], appliedAt: Date, outcomes: ApplyOutcome[]): Promise<void> {
    let pending = round;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > maxGateAttempts) {
        throw new StoreUnavailableError(`read model: ${collection} keys kept changing under the version gate`);
      }
      const rejected = await bulkUpsert(documents(collection), pending.map(({ event }) => gatedUpsert(event, appliedAt)));
      for (const [i, item] of pending.entries()) {
        if (!rejected.has(i)) outcomes[item.index] = { status: 'applied' };
      }
      const skipped = pending.filter((_, i) => rejected.has(i));
      const stored = await storedVersions(collection, skipped.map(({ event }) => event.key));
      const retry: IndexedEvent[] = [];
      for (const item of skipped) {
        const version = stored.get(item.event.key);
        // Lower or missing: a concurrent writer inserted the key between our filter and our insert.
        if (version === undefined || version < item.event.version) retry.push(item);
        else outcomes[item.index] = skippedOutcome(version, item.event.version);
      }
      pending = retry;
    }
  }

  async function storedVersions(collection: string, keys: readonly string[]): Promise<Map<string, bigint>> {
    const versions = new Map<string, bigint>();
    if (keys.length === 0) return versions;
    const rows = await documents(collection)
      .find({ _id: { $in: [...keys] } }, { ...readOptions, projection: { _id: 1, version: 1 } })
      .toArray();
    for (const row of rows) {
      const parsed = versionRowSchema.parse(row);
      versions.set(parsed._id, parsed.version);
    }
    return versions;
  }

  let closed = false;

  return {
    async applyBatch(events) {
      if (events.length === 0) return [];
      const appliedAt = now();
      const outcomes: ApplyOutcome[] = [];
      await guard('apply a batch', async () => {
        for (const round of splitIntoRounds(events)) {
          for (const [collection, items] of groupByCollection(round)) await applyRound(collection, items, appliedAt, outcomes);
        }
      });
      return outcomesInOrder(events, outcomes);
    },

    async get(collection, key, getOptions = {}) {
      if (!isReadModelCollectionName(collection) || !isStorableKey(key)) return undefined;
      const row = await guard('read a document', () => documents(collection).findOne({ _id: key }, readOptions));
      if (row === null) return undefined;
      const doc = toStoredDocument(collection, row);
      return visibleDocument(doc, getOptions);
    },

    async find(collection, filter, findOptions) {
      assertSafeFilter(filter);
      if (!isReadModelCollectionName(collection)) return [];
      const limit = clampLimit(findOptions.limit);
      if (limit === 0) return [];
      const rows = await guard('find documents', () =>
        documents(collection).find(mongoFilter(filter), readOptions).sort({ _id: 1 }).limit(limit).toArray(),
      );
      return rows.map((row) => toStoredDocument(collection, row));
    },

    inventory(collection) {
      return inventoryOf(documents(collection));
    },

    async load(name) {
      const row = await guard('load a checkpoint', () => checkpoints.findOne({ _id: name }));
      return row === null ? undefined : checkpointRowSchema.parse(row).position;
    },

    async save(name, position) {
      await guard('save a checkpoint', () =>
        checkpoints.updateOne({ _id: name }, { $set: { position, updatedAt: now() } }, { upsert: true, writeConcern }),
      );
    },

    async putDeadLetter(letter) {
      // The same text as the SQL stores keep: a letter reads back alike on every store.
      const row: MongoDeadLetter = {
        messageId: storableText(letter.messageId),
        transport: storableText(letter.transport),
        text: storableText(letter.text),
        reason: storableText(letter.reason),
        authorId: letter.author === undefined ? null : storableText(letter.author.id),
        authorUsername: letter.author?.username === undefined ? null : storableText(letter.author.username),
        receivedAt: new Date(letter.receivedAt),
        storedAt: now(),
      };
      await guard('store a dead letter', async () => {
        try {
          await deadLetters.updateOne(
            { messageId: row.messageId, transport: row.transport },
            { $setOnInsert: row },
            { upsert: true, writeConcern },
          );
        } catch (err) {
          // Two deliveries raced to insert it; the unique index kept one, which is the contract.
          if (!(err instanceof MongoServerError && err.code === duplicateKeyCode)) throw err;
        }
      });
    },

    async listDeadLetters(listOptions) {
      const limit = clampLimit(listOptions.limit);
      if (limit === 0) return [];
      // ObjectIds grow with insertion time, so `_id` descending is newest first.
      const rows = await guard('list dead letters', () => deadLetters.find({}).sort({ _id: -1 }).limit(limit).toArray());
      return rows.map(toDeadLetter);
    },

    async check() {
      await guard('reach the read model', () => db.command({ ping: 1 }));
    },

    async close() {
      if (closed) return;
      closed = true;
      if (owned) await client.close();
    },
  };
}

/**
 * The live documents of one collection as (key, version). MongoDB has no md5 in an aggregation, so the
 * digests are computed here over a stream of `_id` and `version` alone (never `data`), which the
 * `_id` index cannot serve on its own; the listings read only the keys asked for.
 */
function inventoryOf(collection: Collection<MongoReadModelDocument>): VersionInventory {
  const live = { deleted: false };
  async function* keyVersions(): AsyncGenerator<KeyVersion> {
    const cursor = collection.find(live, { ...readOptions, projection: { _id: 1, version: 1, source: 1 }, batchSize: 10_000 });
    for await (const row of cursor) yield toKeyVersion(row);
  }
  return {
    count: () => guard('count documents', () => collection.countDocuments(live)),
    digests: (bits) =>
      guard('digest documents', async () => {
        const builder = digestBuilder(bits);
        for await (const row of keyVersions()) builder.add(row);
        return builder.digests();
      }),
    inBuckets: (bits, buckets) =>
      guard('list documents by bucket', async () => {
        const wanted = new Set(buckets);
        const found: KeyVersion[] = [];
        for await (const row of keyVersions()) if (wanted.has(bucketOf(row, bits))) found.push(row);
        return found;
      }),
    versionsOf: (keys) =>
      guard('read document versions', async () => {
        if (keys.length === 0) return [];
        const rows = await collection.find({ ...live, _id: { $in: [...keys] } }, { ...readOptions, projection: { _id: 1, version: 1, source: 1 } }).toArray();
        return rows.map(toKeyVersion);
      }),
  };
}

function toKeyVersion(row: unknown): KeyVersion {
  const { _id: key, version, source } = keyVersionRowSchema.parse(row);
  return { key, version, source };
}

function gatedUpsert(event: ChangeEvent, appliedAt: Date): AnyBulkWriteOperation<MongoReadModelDocument> {
  const version = Long.fromBigInt(event.version);
  return {
    updateOne: {
      filter: { _id: event.key, version: { $lt: version } },
      update: {
        $set: {
          version,
          deleted: event.op === 'delete',
          data: event.op === 'delete' ? null : event.data,
          eventId: event.id,
          source: event.source,
          appliedAt,
        },
      },
      upsert: true,
    },
  };
}

/**
 * Runs the operations and returns the positions the version gate turned away (E11000). Any other
 * write error, or a write-concern error, is an infrastructure failure and is thrown.
 */
async function bulkUpsert(
  collection: Collection<MongoReadModelDocument>,
  operations: AnyBulkWriteOperation<MongoReadModelDocument>[],
): Promise<Set<number>> {
  try {
    await collection.bulkWrite(operations, { ordered: false, writeConcern });
    return new Set();
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const writeErrors = err.result.getWriteErrors();
    const onlyGate = writeErrors.length > 0 && writeErrors.every((e) => e.code === duplicateKeyCode);
    if (!onlyGate || err.result.getWriteConcernError() !== undefined) throw err;
    return new Set(writeErrors.map((e) => e.index));
  }
}

function groupByCollection(round: readonly IndexedEvent[]): Map<string, IndexedEvent[]> {
  const groups = new Map<string, IndexedEvent[]>();
  for (const item of round) {
    const group = groups.get(item.event.collection) ?? [];
    if (group.length === 0) groups.set(item.event.collection, group);
    group.push(item);
  }
  return groups;
}

/**
 * Exact equality on `data.<field>` (validated: no `$`, no `.`). MongoDB would also match an array
 * holding the value, and `null` would match a missing field; both are excluded so every store
 * answers the same.
 */
function mongoFilter(filter: FieldFilter): Filter<MongoReadModelDocument> {
  const conditions: Filter<MongoReadModelDocument>[] = [{ deleted: false }];
  for (const [field, value] of Object.entries(filter)) {
    const path = `data.${field}`;
    const alternatives = filterAlternatives(value).map((alternative): Document =>
      alternative === null ? { [path]: { $type: 'null' } } : { [path]: { $eq: alternative } },
    );
    conditions.push({ [path]: { $not: { $type: 'array' } } });
    conditions.push(alternatives.length === 0 ? { _id: { $in: [] } } : { $or: alternatives });
  }
  return { $and: conditions };
}

/**
 * Wraps driver failures, classified by `classifyMongoError`: `StoreRefusedError` when the document is
 * at fault, `StoreUnavailableError` (retry) for network, election and write-concern failures.
 */
async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(err, what, classifyMongoError);
  }
}

const bsonVersionSchema = z
  .union([z.bigint(), z.number().int(), z.custom<Long>((value) => Long.isLong(value), { message: 'expected an int64' })])
  .transform((value) => (typeof value === 'bigint' ? value : typeof value === 'number' ? BigInt(value) : value.toBigInt()));

const versionRowSchema = z.object({ _id: z.string(), version: bsonVersionSchema });
const keyVersionRowSchema = versionRowSchema.extend({ source: z.string() });

const documentRowSchema = z.object({
  _id: z.string(),
  version: bsonVersionSchema,
  deleted: z.boolean(),
  data: z.unknown(),
  eventId: z.string(),
  source: z.string(),
  appliedAt: z.date(),
});

function toStoredDocument(collection: string, row: unknown): StoredDocument {
  const parsed = documentRowSchema.parse(row);
  return {
    collection,
    key: parsed._id,
    version: parsed.version,
    deleted: parsed.deleted,
    data: !parsed.deleted && isJsonObject(parsed.data) ? parsed.data : null,
    eventId: parsed.eventId,
    source: parsed.source,
    appliedAt: parsed.appliedAt.toISOString(),
  };
}

const checkpointRowSchema = z.object({ position: z.string() });

const deadLetterRowSchema = z.object({
  messageId: z.string(),
  transport: z.string(),
  text: z.string(),
  reason: z.string(),
  authorId: z.string().nullable(),
  authorUsername: z.string().nullable(),
  receivedAt: z.date(),
});

function toDeadLetter(row: unknown): DeadLetter {
  const parsed = deadLetterRowSchema.parse(row);
  return {
    messageId: parsed.messageId,
    transport: parsed.transport,
    text: parsed.text,
    reason: parsed.reason,
    ...(parsed.authorId === null
      ? {}
      : { author: { id: parsed.authorId, ...(parsed.authorUsername === null ? {} : { username: parsed.authorUsername }) } }),
    receivedAt: parsed.receivedAt.toISOString(),
  };
}
