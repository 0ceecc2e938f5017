import pg from 'pg';
import { expect } from 'vitest';
import { z } from 'zod';
import { defaultExponentialBackoff, type Backoff } from '../common/backoff.js';
import { type Logger, createLogger } from '../common/logger.js';
import { createPgSchema, pgSchemaPool, pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { sqlFromPgPool, type SqlDatabase } from '../common/sql.js';
import { waitUntil, type WaitOptions } from '../common/wait.fixture.js';
import { within } from '../common/timeout.js';
import { compareBigints } from '../events/change-event.fixture.js';
import type { ChangeEvent } from '../events/envelope.js';
import { createJsonDecoder } from '../events/json-codec.js';
import { createConsumerPipeline } from '../consumer/pipeline.js';
import { createConsumerStats, type ConsumerStats } from '../consumer/stats.js';
import { createPostgresReadModelStore } from '../consumer/stores/postgres/postgres-read-model-store.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';
import { openTrust } from '../consumer/trust.js';
import type { OutboxReader } from '../publisher/capture/outbox.js';
import { createPgOutboxListener, type OutboxWakeup } from '../publisher/capture/postgres/outbox-listener.js';
import { createPostgresOutbox, type PostgresOutbox } from '../publisher/capture/postgres/postgres-outbox.js';
import { createPgWakeGate } from '../publisher/capture/postgres/wake-gate.js';
import { applyDemoOrdersSchema } from '../publisher/capture/postgres/schema.js';
import { createPgAdvisoryLeadership, type PgAdvisoryLeadership } from '../publisher/capture/postgres/advisory-leadership.js';
import { followLeadership, type LeaderRelay } from '../publisher/leader-relay.js';
import { createOutboxRelay, type OutboxRelay } from '../publisher/relay.js';
import { createInMemoryCheckpointStore } from '../transports/in-memory/checkpoint-store.js';
import { createInMemoryBus, type InMemoryBus } from '../transports/in-memory/in-memory-bus.js';
import type { EventSource } from '../transports/transport.js';

/**
 * The end-to-end capture harness: a PostgreSQL schema with the outbox and `dvx_orders`, relays that
 * move its outbox onto an in-memory bus, and the real consumer pipeline applying the bus into a
 * PostgreSQL read model of its own schema. `expectReadModelMatches` is how every case ends.
 */

/** How long any condition may take to come true (`waitUntil`); generous, because the whole suite shares two cores. */
export const patience: WaitOptions = { timeoutMs: 90_000, intervalMs: 25 };

const logger: Logger = createLogger({ level: 'silent' });

/** One entry of the bus log, as a reader of the whole log sees it. */
export interface Delivery {
  readonly offset: number;
  readonly event: ChangeEvent;
}

/** What the outbox holds for one captured change. */
interface OutboxEntry {
  readonly id: string;
  readonly key: string;
  readonly version: bigint;
  readonly op: string;
  readonly published: boolean;
  readonly failed: boolean;
}

/** The parts of one relay process: its own pool, LISTEN connection and relay loop. */
interface RelayNode {
  readonly pool: pg.Pool;
  readonly listener: OutboxWakeup;
  readonly relay: OutboxRelay;
  /** Stops the relay (graceful), then releases the listener and the pool. Idempotent. */
  stop(): Promise<void>;
  /** A crash: releases the listener and the pool without waiting for the relay, which may be stuck. Idempotent. */
  abandon(): Promise<void>;
}

interface RelayNodeOptions {
  /** Wraps the node's outbox, e.g. to make `markPublished` fail like a crash would. */
  readonly wrapReader?: (outbox: PostgresOutbox) => OutboxReader;
  readonly batchSize?: number;
  readonly backoff?: Backoff;
  /** Connections in the node's pool; the LISTEN holds one. Default 3. */
  readonly poolSize?: number;
}

/** A relay that runs only while its instance holds the advisory lock. */
export interface LeaderNode {
  readonly node: RelayNode;
  readonly leadership: PgAdvisoryLeadership;
  readonly follower: LeaderRelay;
}

export interface CaptureHarness {
  /** The write side's schema (outbox and `dvx_orders`). */
  readonly schema: string;
  /** The read model's schema (tables `documents`, `checkpoints`, `dead_letters`). */
  readonly readModelSchema: string;
  /** The write side: autocommitted statements. */
  readonly db: SqlDatabase;
  readonly bus: InMemoryBus;
  readonly store: ReadModelStore;
  readonly consumerStats: ConsumerStats;
  /** A connection inside BEGIN; rolled back and released by `close` if the test did not end it. */
  begin(): Promise<pg.PoolClient>;
  /** Commits or rolls back and gives the connection back. */
  end(client: pg.PoolClient, how: 'COMMIT' | 'ROLLBACK'): Promise<void>;
  /** A relay node that follows an advisory-lock leadership; not started (`follower.start()`). */
  leaderNode(name: string, options: { retryMs: number; checkMs: number }): LeaderNode;
  /**
   * A relay with its own pool, started once its LISTEN is active. Stopped with the harness unless
   * abandoned first.
   */
  startRelay(name: string, options?: RelayNodeOptions): Promise<RelayNode>;
  /** Every entry on the bus so far, in log order (waits until the recorder has read the whole log). */
  deliveries(): Promise<Delivery[]>;
  outbox(): Promise<OutboxEntry[]>;
  /**
   * Once the outbox has no pending row and the consumer has handled the whole bus log: the read model
   * holds exactly the rows of `dvx_orders`, field by field, each at the last version the outbox
   * captured for its key; every deleted key is a tombstone at its delete's version and invisible to
   * queries; nothing was dead-lettered on either side.
   */
  expectReadModelMatches(): Promise<void>;
  /** Closes everything this harness opened, even after a failed test, and drops both schemas. */
  close(): Promise<void>;
}

const consumerCheckpoint = 'capture-it';

const countRow = z.object({ n: z.number() });

const outboxEntryRow = z.object({
  id: z.string(),
  key: z.string(),
  version: z.string().transform((v) => BigInt(v)),
  op: z.string(),
  published: z.boolean(),
  failed: z.boolean(),
});

const instantPattern = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)$/;

/** A row or document as plain comparable values: any timestamp becomes its instant in ISO form. */
function canonical(key: string, fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { _key: key };
  for (const [name, value] of Object.entries(fields)) {
    if (value instanceof Date) out[name] = value.toISOString();
    else if (typeof value === 'string' && instantPattern.test(value)) out[name] = new Date(value).toISOString();
    else out[name] = value;
  }
  return out;
}

function byKey(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return String(a._key) < String(b._key) ? -1 : String(a._key) > String(b._key) ? 1 : 0;
}

/** Closing must finish even when a part hangs (an abandoned relay), so a failed test cannot wedge afterEach. */
function bounded(what: string, work: () => Promise<unknown>, ms = 20_000): Promise<unknown> {
  return within(work(), ms, `closing ${what}`);
}

export async function openCaptureHarness(): Promise<CaptureHarness> {
  const closers: { what: string; close: () => Promise<unknown> }[] = [];
  const openClients = new Set<pg.PoolClient>();
  const poolEnds = new Map<pg.Pool, Promise<void>>();
  /** `pg` refuses a second `end()`; a node and the harness may both end one pool. */
  const endPool = (pool: pg.Pool): Promise<void> => {
    const ending = poolEnds.get(pool) ?? pool.end();
    poolEnds.set(pool, ending);
    return ending;
  };

  async function close(): Promise<void> {
    for (const client of openClients) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(true);
    }
    openClients.clear();
    const failures: string[] = [];
    for (const { what, close: fn } of closers.reverse()) {
      const [result] = await Promise.allSettled([bounded(what, fn)]);
      if (result.status === 'rejected') failures.push(`${what}: ${String(result.reason)}`);
    }
    closers.length = 0;
    if (failures.length > 0) throw new Error(`the capture harness did not close cleanly: ${failures.join('; ')}`);
  }

  try {
    const { schema, drop: dropSchema } = await createPgSchema(pgTestDatabaseUrl, 'capture_it');
    closers.push({ what: 'the write schema', close: dropSchema });
    const { schema: readModelSchema, drop: dropReadModelSchema } = await createPgSchema(pgTestDatabaseUrl, 'capture_rm');
    closers.push({ what: 'the read-model schema', close: dropReadModelSchema });

    const openPool = (name: string, max: number): pg.Pool => {
      const pool = pgSchemaPool(pgTestDatabaseUrl, schema, { max, applicationName: `${schema}:${name}` });
      closers.push({ what: `pool ${name}`, close: () => endPool(pool) });
      return pool;
    };
    const writePool = openPool('write', 6);
    const db = sqlFromPgPool(writePool, { owned: false });
    await applyDemoOrdersSchema(db);

    const readModelPool = new pg.Pool({ connectionString: pgTestDatabaseUrl, application_name: `${readModelSchema}:store`, max: 3 });
    readModelPool.on('error', () => undefined);
    const readModelDb = sqlFromPgPool(readModelPool, { owned: true });
    closers.push({ what: 'the read-model pool', close: () => readModelDb.close() });
    const store = await createPostgresReadModelStore({ db: readModelDb }, { schema: readModelSchema, logger });
    closers.push({ what: 'the read-model store', close: () => store.close() });

    const bus = createInMemoryBus();
    const decode = createJsonDecoder({ collections: ['orders'] });

    // The consumer: the real pipeline over the bus, checkpointing in the read model like a service does.
    const consumerStats = createConsumerStats();
    const consumer: EventSource = bus.source({ checkpoints: store, checkpointName: consumerCheckpoint, logger });
    closers.push({ what: 'the consumer', close: () => consumer.close() });
    await consumer.start(
      createConsumerPipeline({ decode, trust: openTrust(), store, logger, now: () => new Date(), transportName: 'in-memory', stats: consumerStats }),
    );

    // A second, independent reader of the whole log: what the bus carried, in order.
    const recorded: Delivery[] = [];
    const undecodable: string[] = [];
    const recorder = bus.source({ checkpoints: createInMemoryCheckpointStore(), checkpointName: 'recorder', batchSize: 1_000, logger });
    closers.push({ what: 'the recorder', close: () => recorder.close() });
    await recorder.start((batch) => {
      for (const message of batch) {
        const decoded = decode(message);
        if (decoded.ok) for (const event of decoded.events) recorded.push({ offset: Number(message.id), event });
        else undecodable.push(`${message.id}: ${decoded.reason}`);
      }
      return Promise.resolve();
    });

    const relayBackoff = defaultExponentialBackoff({ initialMs: 20, maxMs: 500 });

    function relayNode(name: string, options: RelayNodeOptions = {}): RelayNode {
      const pool = openPool(`relay-${name}`, options.poolSize ?? 3);
      const db = sqlFromPgPool(pool, { owned: false });
      const outbox = createPostgresOutbox({ db }, { logger });
      const listener = createPgOutboxListener(pool, { logger, reconnectMs: 100 });
      const relay = createOutboxRelay({
        reader: options.wrapReader?.(outbox) ?? outbox,
        publisher: bus.publisher(),
        logger: logger.child({ relay: name }),
        batchSize: options.batchSize ?? 25,
        pollIntervalMs: 50,
        backoff: options.backoff ?? relayBackoff,
        wake: listener.wake,
        wakeGate: createPgWakeGate(db, { logger }),
      });
      let released: Promise<void> | undefined;
      const release = (): Promise<void> =>
        (released ??= (async () => {
          await listener.close();
          await endPool(pool);
        })());
      let stopping: Promise<void> | undefined;
      const node: RelayNode = {
        pool,
        listener,
        relay,
        stop: () =>
          (stopping ??= (async () => {
            await relay.stop();
            await release();
          })()),
        abandon: release,
      };
      // Registered after the pool, so it runs before the pool's own closer; an abandoned node is already released.
      closers.push({ what: `relay ${name}`, close: () => (released === undefined ? node.stop() : release()) });
      return node;
    }

    function leaderNode(name: string, options: { retryMs: number; checkMs: number }): LeaderNode {
      // One connection more than a plain node: the leadership holds its lock on one of the pool's.
      const node = relayNode(name, { poolSize: 4 });
      const leadership = createPgAdvisoryLeadership(node.pool, { ...options, logger: logger.child({ relay: name }) });
      const follower = followLeadership({ relay: node.relay, leadership, logger: logger.child({ relay: name }) });
      // Runs before the node's own closer: the leadership's connection goes back before the pool ends.
      closers.push({ what: `leadership ${name}`, close: () => follower.stop() });
      return { node, leadership, follower };
    }

    async function outboxEntries(): Promise<OutboxEntry[]> {
      const result = await db.query(
        `SELECT id, aggregateid AS key, version::text AS version, op,
                published_at IS NOT NULL AS published, failed_at IS NOT NULL AS failed
           FROM tweetbus_outbox o ORDER BY o.version`,
      );
      return result.rows.map((row) => outboxEntryRow.parse(row));
    }

    async function deliveries(): Promise<Delivery[]> {
      await waitUntil('the recorder has read the whole bus log', () => recorded.length + undecodable.length >= bus.length, patience);
      expect(undecodable, 'bus entries that are not change events').toEqual([]);
      return [...recorded];
    }

    async function waitForQuiescence(): Promise<void> {
      await waitUntil('the outbox has no pending rows', async () => {
        const result = await db.query('SELECT count(*)::int AS n FROM tweetbus_outbox WHERE published_at IS NULL AND failed_at IS NULL');
        return countRow.parse(result.rows[0]).n === 0;
      }, patience);
      const logLength = bus.length;
      await waitUntil('the consumer has handled the whole bus log', async () => {
        if (logLength === 0) return true;
        const position = await store.load(consumerCheckpoint);
        return position !== undefined && Number(position) >= logLength - 1;
      }, patience);
    }

    async function expectReadModelMatches(): Promise<void> {
      await waitForQuiescence();

      const failedRows = await db.query('SELECT id, failed_reason FROM tweetbus_outbox WHERE failed_at IS NOT NULL');
      expect(failedRows.rows, 'outbox rows dead-lettered by the relay').toEqual([]);
      expect(await store.listDeadLetters({ limit: 10 }), 'messages dead-lettered by the consumer').toEqual([]);

      const written = await db.query('SELECT * FROM dvx_orders');
      const writeSide = written.rows.map((row) => canonical(String(row.id), row)).sort(byKey);
      const documents = await store.find('orders', {}, { limit: 1_000_000 });
      const readSide = documents.map((doc) => canonical(doc.key, doc.data ?? {})).sort(byKey);
      expect(readSide, 'read model vs dvx_orders, row by row').toEqual(writeSide);

      // Same images could still hide an older version; and a deleted key must be a tombstone, not a gap.
      const captured = await outboxEntries();
      const last = new Map<string, OutboxEntry>();
      for (const entry of captured) last.set(entry.key, entry);
      const versions = await Promise.all(
        [...last.values()].map(async (entry) => {
          const doc = await store.get('orders', entry.key, { includeDeleted: true });
          return { key: entry.key, expected: { version: entry.version, deleted: entry.op === 'delete' }, actual: doc && { version: doc.version, deleted: doc.deleted } };
        }),
      );
      expect(versions.map((v) => ({ key: v.key, v: v.actual })), 'each key at the last captured version').toEqual(
        versions.map((v) => ({ key: v.key, v: v.expected })),
      );

      const deletedKeys = [...last.values()].filter((e) => e.op === 'delete').map((e) => e.key);
      const visibleKeys = new Set(documents.map((d) => d.key));
      for (const key of deletedKeys) {
        expect(visibleKeys.has(key), `deleted key ${key} listed by find`).toBe(false);
        expect(await store.get('orders', key), `deleted key ${key} returned by get`).toBeUndefined();
        expect(await store.find('orders', { id: key }, { limit: 10 }), `deleted key ${key} matched by a filter`).toEqual([]);
      }
    }

    return {
      schema,
      readModelSchema,
      db,
      bus,
      store,
      consumerStats,
      async begin() {
        const client = await writePool.connect();
        openClients.add(client);
        await client.query('BEGIN');
        return client;
      },
      async end(client, how) {
        try {
          await client.query(how);
        } finally {
          openClients.delete(client);
          client.release();
        }
      },
      leaderNode,
      async startRelay(name, options) {
        const node = relayNode(name, options);
        await node.listener.ready;
        node.relay.start();
        return node;
      },
      deliveries,
      outbox: outboxEntries,
      expectReadModelMatches,
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** Counts how often each event id appears in `deliveries`. */
export function deliveryCounts(deliveries: readonly Delivery[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of deliveries) counts.set(d.event.id, (counts.get(d.event.id) ?? 0) + 1);
  return counts;
}

/** Every captured event was delivered at least once, and nothing was delivered that was not captured. */
export function expectEveryCapturedEventDelivered(deliveries: readonly Delivery[], captured: readonly OutboxEntry[]): void {
  const delivered = new Set(deliveries.map((d) => d.event.id));
  expect(captured.filter((e) => !delivered.has(e.id)), 'captured but never delivered').toEqual([]);
  const capturedIds = new Set(captured.map((e) => e.id));
  expect(deliveries.filter((d) => !capturedIds.has(d.event.id)), 'delivered but never captured').toEqual([]);
}

/**
 * `expectEveryCapturedEventDelivered`, and per key the first deliveries came in version order (a
 * repeat after a crash may come later; the consumer's gate makes it harmless).
 */
export function expectDeliveredInVersionOrderPerKey(deliveries: readonly Delivery[], captured: readonly OutboxEntry[]): void {
  expectEveryCapturedEventDelivered(deliveries, captured);
  const expected = new Map<string, bigint[]>();
  for (const e of [...captured].sort((a, b) => compareBigints(a.version, b.version))) {
    expected.set(e.key, [...(expected.get(e.key) ?? []), e.version]);
  }
  const actual = firstDeliveryVersionsByKey(deliveries);
  for (const [key, versions] of expected) expect(actual.get(key), `bus order of key ${key}`).toEqual(versions);
}

/** Per key, the versions of the first delivery of each event, in bus order. */
function firstDeliveryVersionsByKey(deliveries: readonly Delivery[]): Map<string, bigint[]> {
  const seen = new Set<string>();
  const byKey = new Map<string, bigint[]>();
  for (const { event } of deliveries) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    const versions = byKey.get(event.key) ?? [];
    versions.push(event.version);
    byKey.set(event.key, versions);
  }
  return byKey;
}
