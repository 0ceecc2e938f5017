import { Pool } from 'pg';
import { z } from 'zod';
import { StoreUnavailableError, toStoreError, TweetbusError } from '../../../common/errors.js';
import type { Logger } from '../../../common/logger.js';
import { sqlFromPgPool, type SqlDatabase, type SqlQueryable } from '../../../common/sql.js';
import { digestsSql, inBucketsSql, type KeyVersion, type VersionInventory } from '../../../common/version-digest.js';
import type { ChangeEvent } from '../../../events/envelope.js';
import { isJsonObject, type JsonObject, type JsonPrimitive } from '../../../events/json.js';
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
import { classifyPostgresError } from './postgres-errors.js';
import { defaultReadModelSchema, quoteSchemaName, readModelSchemaStatements } from './read-model-schema.js';

export type PostgresReadModelConnection = { readonly db: SqlDatabase } | { readonly connectionString: string };

export interface PostgresReadModelStoreOptions {
  /** Where the tables live; created at start if missing. Default `read_model`. */
  readonly schema?: string;
  readonly now?: () => Date;
  /** Receives errors of idle pooled connections (only for a pool this store created). */
  readonly logger: Logger;
  /**
   * The most events one statement applies; a larger batch takes several, in one transaction.
   * Default: no limit, one statement per round. The embedded store sets it (`embeddedRowsPerStatement`).
   */
  readonly maxRowsPerStatement?: number;
}

/**
 * The read model in PostgreSQL, documents as JSONB. It also backs the embedded store (PGlite), so
 * every statement here must run on both: one statement per `query`, parameters as `$n`, nothing
 * untrusted ever in SQL text (the schema name is validated and quoted; filter fields travel as
 * JSON parameters).
 *
 * Given `{ db }` it uses that connection and never closes it; given `{ connectionString }` it creates
 * a pool and ends it on `close()`.
 */
export async function createPostgresReadModelStore(
  connection: PostgresReadModelConnection,
  options: PostgresReadModelStoreOptions,
): Promise<ReadModelStore> {
  const schema = options.schema ?? defaultReadModelSchema;
  const s = quoteSchemaName(schema);
  const now = options.now ?? (() => new Date());
  const owned = !('db' in connection);
  const maxRowsPerStatement = options.maxRowsPerStatement ?? Number.POSITIVE_INFINITY;
  if (!(maxRowsPerStatement >= 1)) throw new TweetbusError('store.invalid', `maxRowsPerStatement must be at least 1, not ${String(maxRowsPerStatement)}`);
  const db = 'db' in connection ? connection.db : poolDatabase(connection.connectionString, options.logger);

  try {
    await guard('create the read-model schema', () =>
      db.transaction(async (tx) => {
        // Two consumers starting together would otherwise race on CREATE ... IF NOT EXISTS.
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tweetbus.read_model.${schema}`]);
        for (const statement of readModelSchemaStatements(schema)) await tx.query(statement);
      }),
    );
  } catch (err) {
    if (owned) await db.close();
    throw err;
  }

  const applyRoundSql = `WITH incoming AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS i(ord integer, collection text, key text, version bigint, deleted boolean, data jsonb, event_id text, source text)
), written AS (
  INSERT INTO ${s}.documents AS d (collection, key, version, deleted, data, event_id, source, applied_at)
  SELECT collection, key, version, deleted, data, event_id, source, $2::timestamptz FROM incoming
  ON CONFLICT (collection, key) DO UPDATE
    SET version = EXCLUDED.version, deleted = EXCLUDED.deleted, data = EXCLUDED.data,
        event_id = EXCLUDED.event_id, source = EXCLUDED.source, applied_at = EXCLUDED.applied_at
    WHERE d.version < EXCLUDED.version
  RETURNING d.collection, d.key
)
SELECT i.ord, prior.version::text AS stored_version
FROM incoming i
LEFT JOIN written w ON w.collection = i.collection AND w.key = i.key
LEFT JOIN ${s}.documents prior ON prior.collection = i.collection AND prior.key = i.key
WHERE w.key IS NULL`;
  // Text that came from a message is read back as jsonb (a quoted JSON string): PGlite's protocol reader
  // decodes text with a TextDecoder that drops a leading U+FEFF, so "\uFEFFx" would come back as "x".
  const documentColumns = `collection, to_jsonb(key) AS key, version::text AS version, deleted, data, to_jsonb(event_id) AS event_id, to_jsonb(source) AS source, applied_at`;

  /**
   * One statement per round, which returns only the events the gate skipped: under a backlog of new
   * versions that is none, and the round's answer is empty. Every statement of a data-modifying CTE
   * sees the snapshot from before it, so `prior` is the version the gate compared against: equal
   * means duplicate, higher stale.
   */
  async function applyRound(tx: SqlQueryable, round: readonly IndexedEvent[], appliedAt: string, outcomes: ApplyOutcome[]): Promise<void> {
    const rows = round.map(({ index, event }) => ({
      ord: index,
      collection: event.collection,
      key: event.key,
      version: event.version.toString(),
      deleted: event.op === 'delete',
      data: event.op === 'delete' ? null : event.data,
      event_id: event.id,
      source: event.source,
    }));
    const result = await tx.query(applyRoundSql, [JSON.stringify(rows), appliedAt]);
    const byIndex = new Map(round.map((item) => [item.index, item.event]));
    for (const { index } of round) outcomes[index] = applied;
    for (const row of result.rows) {
      const { ord, stored_version } = skippedRowSchema.parse(row);
      const event = byIndex.get(ord);
      if (event === undefined) throw new TweetbusError('store.invalid', `apply returned an unknown position ${ord}`);
      // The gate compares against the newest committed row, `prior` against our snapshot: when a
      // concurrent writer got in between, `prior` cannot explain the skip, so read the row again.
      const prior = stored_version === null ? undefined : BigInt(stored_version);
      const stored = prior === undefined || prior < event.version ? await storedVersion(tx, event) : prior;
      outcomes[ord] = skippedOutcome(stored, event.version);
    }
  }

  async function storedVersion(tx: SqlQueryable, event: ChangeEvent): Promise<bigint> {
    const result = await tx.query(`SELECT version::text AS version FROM ${s}.documents WHERE collection = $1 AND key = $2`, [
      event.collection,
      event.key,
    ]);
    const row = result.rows[0];
    if (row === undefined) throw new StoreUnavailableError(`the gate skipped ${event.collection}/${event.key} but no row is stored`);
    return BigInt(versionRowSchema.parse(row).version);
  }

  let closed = false;

  return {
    async applyBatch(events) {
      if (events.length === 0) return [];
      // A round's keys are distinct, so its parts may apply in any order; rounds keep theirs.
      const statements = splitIntoRounds(events).flatMap((round) => chunksOf(round, maxRowsPerStatement));
      const appliedAt = now().toISOString();
      const outcomes: ApplyOutcome[] = [];
      await guard('apply a batch', async () => {
        if (statements.length === 1 && statements[0] !== undefined) {
          await applyRound(db, statements[0], appliedAt, outcomes);
          return;
        }
        await db.transaction(async (tx) => {
          for (const part of statements) await applyRound(tx, part, appliedAt, outcomes);
        });
      });
      return outcomesInOrder(events, outcomes);
    },

    async get(collection, key, getOptions = {}) {
      if (!isReadModelCollectionName(collection) || !isStorableKey(key)) return undefined;
      const result = await guard('read a document', () =>
        db.query(`SELECT ${documentColumns} FROM ${s}.documents WHERE collection = $1 AND key = $2`, [collection, key]),
      );
      const row = result.rows[0];
      if (row === undefined) return undefined;
      const doc = toStoredDocument(row);
      return visibleDocument(doc, getOptions);
    },

    async find(collection, filter, findOptions) {
      assertSafeFilter(filter);
      if (!isReadModelCollectionName(collection)) return [];
      const { where, params } = filterSql(filter, 3);
      const result = await guard('find documents', () =>
        db.query(
          `SELECT ${documentColumns} FROM ${s}.documents
WHERE collection = $1 AND NOT deleted${where}
ORDER BY documents.key
LIMIT $2`,
          [collection, clampLimit(findOptions.limit), ...params],
        ),
      );
      return result.rows.map(toStoredDocument);
    },

    inventory(collection) {
      return inventoryOf(db, s, collection);
    },

    async load(name) {
      const result = await guard('load a checkpoint', () => db.query(`SELECT position FROM ${s}.checkpoints WHERE name = $1`, [name]));
      const row = result.rows[0];
      return row === undefined ? undefined : checkpointRowSchema.parse(row).position;
    },

    async save(name, position) {
      await guard('save a checkpoint', () =>
        db.query(
          `INSERT INTO ${s}.checkpoints (name, position, updated_at) VALUES ($1, $2, $3::timestamptz)
ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
          [name, position, now().toISOString()],
        ),
      );
    },

    async putDeadLetter(letter) {
      await guard('store a dead letter', () =>
        db.query(
          `INSERT INTO ${s}.dead_letters (message_id, transport, text, reason, author_id, author_username, received_at, stored_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz)
ON CONFLICT (message_id, transport) DO NOTHING`,
          [
            storableText(letter.messageId),
            storableText(letter.transport),
            storableText(letter.text),
            storableText(letter.reason),
            letter.author === undefined ? null : storableText(letter.author.id),
            letter.author?.username === undefined ? null : storableText(letter.author.username),
            letter.receivedAt,
            now().toISOString(),
          ],
        ),
      );
    },

    async listDeadLetters(listOptions) {
      const result = await guard('list dead letters', () =>
        db.query(
          `SELECT to_jsonb(message_id) AS message_id, to_jsonb(transport) AS transport, to_jsonb(text) AS text, to_jsonb(reason) AS reason,
  to_jsonb(author_id) AS author_id, to_jsonb(author_username) AS author_username, received_at
FROM ${s}.dead_letters ORDER BY seq DESC LIMIT $1`,
          [clampLimit(listOptions.limit)],
        ),
      );
      return result.rows.map(toDeadLetter);
    },

    async check() {
      await guard('reach the read model', () => db.query('SELECT 1'));
    },

    async close() {
      if (closed) return;
      closed = true;
      if (owned) await db.close();
    },
  };
}

/** The live documents of `collection` as (key, version): one scan for digests, bucket lists and key lists. */
function inventoryOf(db: SqlQueryable, s: string, collection: string): VersionInventory {
  const live = `(SELECT key, version, source FROM ${s}.documents WHERE collection = $1 AND NOT deleted) live`;
  const keyVersions = (rows: readonly Record<string, unknown>[]): KeyVersion[] =>
    rows.map((row) => {
      const { key, version, source } = keyVersionRowSchema.parse(row);
      return { key, version: BigInt(version), source };
    });
  return {
    async count() {
      const result = await guard('count documents', () => db.query(`SELECT count(*)::integer AS rows FROM ${live}`, [collection]));
      return countRowSchema.parse(result.rows[0]).rows;
    },
    async digests(bits) {
      const result = await guard('digest documents', () => db.query(digestsSql(live, '$2::integer'), [collection, bits]));
      return result.rows.map((row) => {
        const { bucket, rows, sum } = digestRowSchema.parse(row);
        return { bucket, rows, sum: BigInt(sum) };
      });
    },
    async inBuckets(bits, buckets) {
      const result = await guard('list documents by bucket', () =>
        db.query(inBucketsSql(live, 'to_jsonb(key) AS key, version::text AS version, to_jsonb(source) AS source', '$2::integer', '$3::integer[]'), [
          collection,
          bits,
          [...buckets],
        ]),
      );
      return keyVersions(result.rows);
    },
    async versionsOf(keys) {
      if (keys.length === 0) return [];
      const result = await guard('read document versions', () =>
        db.query(`SELECT to_jsonb(key) AS key, version::text AS version, to_jsonb(source) AS source FROM ${live} WHERE key = ANY ($2::text[])`, [collection, [...keys]]),
      );
      return keyVersions(result.rows);
    },
  };
}

function poolDatabase(connectionString: string, logger: Logger | undefined): SqlDatabase {
  const pool = new Pool({ connectionString });
  // An idle client that loses its server emits 'error'; unhandled, it would crash the process.
  pool.on('error', (err) => {
    logger?.warn({ err }, 'idle read-model connection failed');
  });
  return sqlFromPgPool(pool, { owned: true });
}

/**
 * Each field becomes `(data @> $a OR data @> $b …)`: names and values travel inside JSON parameters,
 * so only placeholders reach SQL text. Containment of `{"f": v}` is exact equality for a primitive
 * `v` (an array field does not contain a bare primitive below the top level), and it uses the GIN index.
 */
function filterSql(filter: FieldFilter, firstParam: number): { where: string; params: string[] } {
  const params: string[] = [];
  const clauses: string[] = [];
  for (const [field, value] of Object.entries(filter)) {
    const alternatives: string[] = [];
    for (const alternative of filterAlternatives(value)) {
      const containment: Record<string, JsonPrimitive> = {};
      containment[field] = alternative;
      params.push(JSON.stringify(containment));
      alternatives.push(`data @> $${firstParam + params.length - 1}::jsonb`);
    }
    clauses.push(alternatives.length === 0 ? 'false' : `(${alternatives.join(' OR ')})`);
  }
  return { where: clauses.map((clause) => ` AND ${clause}`).join(''), params };
}

/**
 * Wraps anything the database throws, classified by its SQLSTATE (`classifyPostgresError`):
 * `StoreRefusedError` when the data is at fault, `StoreUnavailableError` (retry; the gate makes a
 * repeat harmless) otherwise.
 */
async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(err, what, classifyPostgresError);
  }
}

const timestampSchema = z.union([z.date(), z.string()]).transform((value) => new Date(value).toISOString());

const applied: ApplyOutcome = { status: 'applied' };

const skippedRowSchema = z.object({
  ord: z.number().int(),
  stored_version: z.string().regex(/^-?\d+$/).nullable(),
});

const keyVersionRowSchema = z.object({ key: z.string(), version: z.string().regex(/^-?\d+$/), source: z.string() });
const countRowSchema = z.object({ rows: z.number().int() });
const digestRowSchema = z.object({ bucket: z.number().int(), rows: z.number().int(), sum: z.string().regex(/^\d+$/) });

const versionRowSchema = z.object({ version: z.string().regex(/^-?\d+$/) });
const checkpointRowSchema = z.object({ position: z.string() });

const documentRowSchema = z.object({
  collection: z.string(),
  key: z.string(),
  version: z.string().regex(/^-?\d+$/),
  deleted: z.boolean(),
  data: z.unknown(),
  event_id: z.string(),
  source: z.string(),
  applied_at: timestampSchema,
});

function toStoredDocument(row: Record<string, unknown>): StoredDocument {
  const parsed = documentRowSchema.parse(row);
  const data: JsonObject | null = isJsonObject(parsed.data) ? parsed.data : null;
  return {
    collection: parsed.collection,
    key: parsed.key,
    version: BigInt(parsed.version),
    deleted: parsed.deleted,
    data: parsed.deleted ? null : data,
    eventId: parsed.event_id,
    source: parsed.source,
    appliedAt: parsed.applied_at,
  };
}

const deadLetterRowSchema = z.object({
  message_id: z.string(),
  transport: z.string(),
  text: z.string(),
  reason: z.string(),
  author_id: z.string().nullable(),
  author_username: z.string().nullable(),
  received_at: timestampSchema,
});

function toDeadLetter(row: Record<string, unknown>): DeadLetter {
  const parsed = deadLetterRowSchema.parse(row);
  return {
    messageId: parsed.message_id,
    transport: parsed.transport,
    text: parsed.text,
    reason: parsed.reason,
    ...(parsed.author_id === null
      ? {}
      : { author: { id: parsed.author_id, ...(parsed.author_username === null ? {} : { username: parsed.author_username }) } }),
    receivedAt: parsed.received_at,
  };
}

/** `items` in consecutive parts of at most `size` (all of them at once when it is infinite). */
function chunksOf<T>(items: readonly T[], size: number): (readonly T[])[] {
  if (items.length <= size) return [items];
  const chunks: (readonly T[])[] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
