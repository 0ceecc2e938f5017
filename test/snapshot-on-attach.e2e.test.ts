import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPgSchema, pgSchemaPool, pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { sqlFromPgPool, type SqlDatabase } from '../common/sql.js';
import { deleteStreams } from '../transports/redis-streams/redis-client.js';
import { defaultRedisUrl } from '../transports/config.js';
import { applyOutboxSchema } from '../publisher/capture/postgres/schema.js';
import { exitCode, openServiceGroup, type ServiceGroup } from './processes.fixture.js';
import type pg from 'pg';

/**
 * Issue 27: a table with 10,000 rows from before its trigger, and the publisher started with
 * SNAPSHOT_ON_ATTACH=true over Redis Streams. It snapshots the table once, beside the relay, which
 * publishes every row; started again, it does not snapshot again.
 */

const rows = 10_000;
const countsSchema = z.object({ total: z.coerce.number(), published: z.coerce.number(), keys: z.coerce.number() });

describe('SNAPSHOT_ON_ATTACH', () => {
  let services: ServiceGroup;
  let pool: pg.Pool;
  let db: SqlDatabase;
  let dropSchema: (() => Promise<void>) | undefined;
  let env: Record<string, string>;
  const stream = `tweetbus:snapshot-on-attach:${String(process.pid)}`;

  beforeAll(async () => {
    services = await openServiceGroup('tweetbus-snapshot-attach-');
    const created = await createPgSchema(pgTestDatabaseUrl, 'e2e_snapshot');
    dropSchema = created.drop;
    pool = pgSchemaPool(pgTestDatabaseUrl, created.schema, { max: 2 });
    db = sqlFromPgPool(pool, { owned: false });
    await applyOutboxSchema(db);
    await db.exec(`CREATE TABLE customers (id integer PRIMARY KEY, name text);
      INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, ${String(rows)}) g;
      CREATE TRIGGER customers_capture AFTER INSERT OR UPDATE OR DELETE ON customers FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('customers', 'id');`);
    await deleteStreams(defaultRedisUrl, [stream]);
    env = {
      OUTBOX_DATABASE_URL: `${pgTestDatabaseUrl}?options=${encodeURIComponent(`-c search_path=${created.schema}`)}`,
      SNAPSHOT_ON_ATTACH: 'true',
      COLLECTIONS: 'customers',
      TRANSPORT: 'redis-streams',
      REDIS_URL: defaultRedisUrl,
      REDIS_STREAM: stream,
    };
  }, 60_000);

  afterAll(async () => {
    try {
      await services.close();
      await deleteStreams(defaultRedisUrl, [stream]);
    } finally {
      await pool.end();
      await dropSchema?.();
    }
  });

  async function counts(): Promise<z.infer<typeof countsSchema>> {
    const result = await db.query(
      `SELECT count(*) AS total, count(*) FILTER (WHERE published_at IS NOT NULL) AS published, count(DISTINCT aggregateid) AS keys
         FROM tweetbus_outbox WHERE aggregatetype = 'customers'`,
    );
    return countsSchema.parse(result.rows[0]);
  }

  it('snapshots a table on first attach, once, and the relay publishes every row', async () => {
    const first = await services.startReady('publisher', 'publisher/main.js', 'PUBLISHER_PORT', env);
    await services.eventually(async () => ((await counts()).published === rows ? true : undefined), 'the snapshot to be enqueued and published', 60_000);
    expect(await counts()).toEqual({ total: rows, published: rows, keys: rows });
    expect(first.output.join('')).toContain('snapshot of a captured table done');
    first.child.kill('SIGTERM');
    expect(await exitCode(first.child)).toBe(0);

    const again = await services.startReady('publisher-again', 'publisher/main.js', 'PUBLISHER_PORT', env);
    await services.eventually(() => Promise.resolve(again.output.join('').includes('every captured table has had its snapshot') ? true : undefined), 'the second start to skip the snapshot');
    expect(await counts()).toEqual({ total: rows, published: rows, keys: rows });
  }, 90_000);
});
