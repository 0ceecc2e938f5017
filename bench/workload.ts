import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { sleep } from '../common/backoff.js';
import type { SqlDatabase } from '../common/sql.js';
import { seededRandom } from '../common/seeded-random.js';
import { defaultEventType, type ChangeEvent } from '../events/envelope.js';

/**
 * What the benches write and send: row changes to the demo's `dvx_orders` (through its capture
 * trigger, as any writer would), a backlog of outbox rows written in bulk, and ready-made change
 * events shaped like that table's row images.
 */

/** One committed row change, as the writer saw it. */
export interface Commit {
  readonly key: string;
  readonly version: bigint;
  /** performance.now() right after COMMIT returned to the writer. */
  readonly at: number;
}


export interface Change {
  readonly key: string;
  readonly status: string;
  readonly customerId: string;
  readonly customerName: string;
  readonly destination: string;
}

export const statuses = ['NEW', 'PAID', 'PACKED', 'SHIPPED', 'DELIVERED'] as const;
const cities = ['Oslo', 'Lisbon', 'Nairobi', 'Osaka', 'Lima', 'Tallinn', 'Perth', 'Quebec'] as const;


/**
 * N changes over ceil(N/5) keys, every key touched about five times, in shuffled order: a key's first
 * change inserts the row, the later ones update it, and inserts and updates interleave.
 */
export function planChanges(n: number): Change[] {
  const keyCount = Math.max(1, Math.ceil(n / 5));
  const next = seededRandom(0x7b_75_73); // the same changes every run
  const keys = Array.from({ length: n }, (_, i) => i % keyCount);
  for (let i = keys.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    const a = keys[i] ?? 0;
    keys[i] = keys[j] ?? 0;
    keys[j] = a;
  }
  const touches = new Map<number, number>();
  return keys.map((k) => {
    const touch = touches.get(k) ?? 0;
    touches.set(k, touch + 1);
    return {
      key: `b${k}`,
      status: statuses[touch % statuses.length] ?? 'NEW',
      customerId: `c${k % 97}`,
      customerName: `Customer ${k}`,
      destination: cities[k % cities.length] ?? 'Oslo',
    };
  });
}

// An upsert rather than INSERT-then-UPDATE: concurrent writers cannot promise that a key's insert
// commits before its first update. `xmax = 0` tells which one the statement did. Each change is one
// statement in a transaction of its own, as an application's single-statement write is: one round
// trip. (A BEGIN, the upsert, a read of the captured row and a COMMIT were four, and the bench's own
// thread then spent more than half its time writing to the database's sockets, which held the
// writers near 1,000 commits/s on a 2-core machine whatever the database could take.)
const upsertSql = `
  INSERT INTO dvx_orders (id, status, customer_id, customer_name, shipping_destination, last_updated_timestamp)
  VALUES ($1, $2, $3, $4, $5, now())
  ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, customer_id = EXCLUDED.customer_id,
    customer_name = EXCLUDED.customer_name, shipping_destination = EXCLUDED.shipping_destination,
    last_updated_timestamp = now()
  RETURNING (xmax = 0) AS inserted, pg_current_xact_id()::text AS tx_id`;

// The rows the writers' transactions captured, read once they are all done: by transaction, since a
// change's event id and version are the trigger's to choose.
const capturedSql = `
  SELECT id, aggregateid, version::text AS version, tx_id::text AS tx_id
    FROM tweetbus_outbox
   WHERE tx_id = ANY($1::xid8[])`;

const upsertedSchema = z.object({ inserted: z.boolean(), tx_id: z.string() });
const capturedSchema = z.object({ id: z.string(), aggregateid: z.string(), version: z.string().regex(/^\d+$/), tx_id: z.string() });

export interface WriteResult {
  /** Commits by event id. */
  readonly commits: Map<string, Commit>;
  /** The writers' commit rate over the first and the last tenth of the changes: flat when the write side's cost stays flat. */
  readonly commitsPerSecond: { readonly first: number; readonly last: number };
  /** From the writers' start to the last commit. */
  readonly writeMs: number;
  readonly inserts: number;
  readonly updates: number;
}

/**
 * The writers commit `plan` as fast as they can, or, given `pacePerSecond`, change i no earlier than
 * i / pace seconds after the start: a steady load, at which latency is what is measured. Then each
 * commit is matched with the one outbox row its transaction captured.
 */
export async function writeChanges(db: SqlDatabase, plan: readonly Change[], writers: number, pacePerSecond?: number): Promise<WriteResult> {
  /** Commit times by the writing transaction's id. */
  const committed = new Map<string, number>();
  let inserts = 0;
  let updates = 0;
  let cursor = 0;
  let started = Number.NaN;

  async function writeOne(change: Change): Promise<void> {
    const upserted = await db.query(upsertSql, [change.key, change.status, change.customerId, change.customerName, change.destination]);
    const at = performance.now();
    const row = upsertedSchema.parse(upserted.rows[0]);
    if (row.inserted) inserts += 1;
    else updates += 1;
    committed.set(row.tx_id, at);
  }

  async function writer(): Promise<void> {
    for (;;) {
      const index = cursor;
      const change = plan[index];
      cursor += 1;
      if (change === undefined) return;
      const early = pacePerSecond === undefined ? 0 : started + (index * 1000) / pacePerSecond - performance.now();
      if (early > 0) await sleep(early);
      await writeOne(change);
    }
  }

  // Every writer's connection is opened before the clock starts: a pool opens them on first use, and
  // that is setup, not the write side's cost.
  await Promise.all(Array.from({ length: writers }, () => db.transaction((tx) => tx.query('SELECT 1'))));
  started = performance.now();
  await Promise.all(Array.from({ length: writers }, writer));
  const writeMs = performance.now() - started;

  const commits = new Map<string, Commit>();
  const rowsOf = new Map<string, number>();
  for (const raw of (await db.query(capturedSql, [[...committed.keys()]])).rows) {
    const row = capturedSchema.parse(raw);
    const at = committed.get(row.tx_id);
    if (at === undefined) continue;
    rowsOf.set(row.tx_id, (rowsOf.get(row.tx_id) ?? 0) + 1);
    commits.set(row.id, { key: row.aggregateid, version: BigInt(row.version), at });
  }
  const wrong = [...committed.keys()].filter((tx) => rowsOf.get(tx) !== 1);
  if (wrong.length > 0) {
    throw new Error(`${wrong.length} of ${committed.size} changes did not capture exactly 1 outbox row (transaction ${wrong[0] ?? ''}: ${rowsOf.get(wrong[0] ?? '') ?? 0})`);
  }
  return { commits, commitsPerSecond: tenthRates(started, [...committed.values()]), writeMs, inserts, updates };
}

/** Commits per second over the first and the last tenth of the commits. */
function tenthRates(started: number, commitTimes: readonly number[]): { first: number; last: number } {
  const times = [...commitTimes].sort((a, b) => a - b);
  const n = Math.max(1, Math.floor(times.length / 10));
  const rate = (from: number, to: number | undefined) => (to === undefined || to <= from ? Number.NaN : n / ((to - from) / 1000));
  return { first: rate(started, times[n - 1]), last: rate(times[times.length - 1 - n] ?? started, times[times.length - 1]) };
}

// ---- a backlog written in bulk ---------------------------------------------------------------------

/** The backlog is written by this many INSERT … SELECT statements, each its own transaction. */
const fillStatements = 10;

// Rows shaped like the demo's orders, so each row image is as large as a real one.
const fillSql = `
  INSERT INTO dvx_orders (id, status, customer_id, customer_name, shipping_destination, last_updated_timestamp)
  SELECT 'order-' || g,
         (ARRAY['NEW', 'PAID', 'PACKED', 'SHIPPED', 'DELIVERED'])[1 + g % 5],
         'c' || g % 97,
         'Customer ' || g,
         (ARRAY['Oslo', 'Lisbon', 'Nairobi', 'Osaka', 'Lima', 'Tallinn', 'Perth', 'Quebec'])[1 + g % 8],
         date_trunc('second', now())
    FROM generate_series($1::int, $2::int) AS g`;

/** Writes `rows` new orders through the capture trigger, in ten transactions: an outbox backlog of `rows` changes. */
export async function fillBacklog(db: SqlDatabase, rows: number): Promise<void> {
  const per = Math.ceil(rows / fillStatements);
  for (let from = 1; from <= rows; from += per) {
    await db.query(fillSql, [from, Math.min(rows, from + per - 1)]);
  }
}

// ---- ready-made events -------------------------------------------------------------------------------

const collection = 'orders';

/** N upserts of `orders` over N/5 keys, each key's versions in order, each the size of a `dvx_orders` row image. */
export function orderEvents(events: number): ChangeEvent[] {
  const keys = Math.max(1, Math.floor(events / 5));
  const createdAt = new Date().toISOString();
  return Array.from({ length: events }, (_, i) => {
    const k = i % keys;
    const key = `o${String(k)}`;
    return {
      id: randomUUID(),
      source: 'bench',
      type: defaultEventType(collection, 'upsert'),
      collection,
      key,
      version: BigInt(Math.floor(i / keys) + 1),
      op: 'upsert',
      data: {
        id: key,
        status: statuses[i % statuses.length] ?? 'NEW',
        customer_id: `c${String(k % 97)}`,
        customer_name: `Customer ${String(k)}`,
        shipping_destination: cities[k % cities.length] ?? 'Oslo',
        last_updated_timestamp: createdAt,
      },
      createdAt,
    };
  });
}
