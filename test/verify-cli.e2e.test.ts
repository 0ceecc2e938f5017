import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAdminQuery } from '../common/pg-test-schema.js';
import { closeDrill, openDrillDatabases, type DrillDatabases } from './drill.fixture.js';
import { exitCode, freePort, openServiceGroup, ready, type ServiceGroup } from './processes.fixture.js';
import { startTestRedisServer, type TestRedisServer } from './redis-server.fixture.js';

/**
 * Issue 27, as an operator runs it: a publisher and a consumer (PostgreSQL write database and read
 * model, over Redis Streams) keep dvx_orders replicated; drift is made by hand in the read model
 * (documents removed, versions lowered, a deleted order brought back); the built `verify/main.js`
 * (what `npm run verify` and the containers run), configured by the services' own variables, finds
 * it and exits 1, heals it with `--heal` while the services run, and then exits 0.
 */

let services: ServiceGroup;
let redis: TestRedisServer;
let db: DrillDatabases;
let env: Record<string, string>;

beforeAll(async () => {
  services = await openServiceGroup('tweetbus-verify-');
  redis = await startTestRedisServer();
  db = await openDrillDatabases('e2e_verify');
  const transport = { TRANSPORT: 'redis-streams', REDIS_URL: redis.url };
  const [publisherPort, consumerPort] = [await freePort(), await freePort()];
  services.start('publisher', 'publisher/main.js', { ...transport, PUBLISHER_PORT: String(publisherPort), OUTBOX_DATABASE_URL: db.outboxUrl, RELAY_POLL_INTERVAL_MS: '100' });
  services.start('consumer', 'consumer/main.js', { ...transport, CONSUMER_PORT: String(consumerPort), STORE: 'postgres', POSTGRES_URL: db.readUrl });
  await services.eventually(ready(`http://127.0.0.1:${String(publisherPort)}`), 'the publisher to be ready', 60_000);
  await services.eventually(ready(`http://127.0.0.1:${String(consumerPort)}`), 'the consumer to be ready', 60_000);
  await db.createOrdersTable();
  env = { OUTBOX_DATABASE_URL: db.outboxUrl, STORE: 'postgres', POSTGRES_URL: db.readUrl };
}, 90_000);

afterAll(async () => {
  try {
    await closeDrill(services, db);
  } finally {
    await redis.kill();
  }
});

async function verify(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const run = services.start(`verify ${args.join(' ')}`, 'verify/main.js', { LOG_LEVEL: 'warn', ...env }, args);
  const code = await exitCode(run.child);
  return { code, output: run.output.join('') };
}

describe('npm run verify', () => {
  it('finds drift made by hand in a running setup, heals it, and then finds none', async () => {
    await db.writeDb.query(`INSERT INTO dvx_orders (id, status, customer_name) SELECT 'o-' || g, 'NEW', 'Customer ' || g FROM generate_series(1, 300) g`);
    await db.writeDb.query(`UPDATE dvx_orders SET status = 'SHIPPED' WHERE id IN ('o-10', 'o-11')`);
    await db.writeDb.query(`DELETE FROM dvx_orders WHERE id = 'o-99'`);
    await db.expectReadModelEqualsWriteTable(services, 'the orders to arrive');

    const clean = await verify(['--collection', 'orders']);
    expect(clean.output).toContain('orders (table dvx_orders): 299 rows, 299 documents');
    expect(clean.output).toContain('no drift');
    expect(clean.code).toBe(0);

    const readModel = await db.readStore();
    await pgAdminQuery(db.readUrl, `DELETE FROM read_model.documents WHERE collection = 'orders' AND key IN ('o-1', 'o-2')`);
    await pgAdminQuery(db.readUrl, `UPDATE read_model.documents SET version = version - 100000 WHERE collection = 'orders' AND key = 'o-10'`);
    await pgAdminQuery(db.readUrl, `UPDATE read_model.documents SET deleted = false, data = '{"id": "o-99", "status": "NEW"}' WHERE collection = 'orders' AND key = 'o-99'`);
    expect(await readModel.get('orders', 'o-99')).toBeDefined();

    const drifted = await verify(['--collection', 'orders', '--settle', '500ms']);
    expect(drifted.code).toBe(1);
    expect(drifted.output).toContain('drift: 4 keys (missing 2, extra 1, behind 1)');
    expect(drifted.output).toMatch(/missing {5}"o-1" {2}table v\d+, read model no document/);
    expect(drifted.output).toMatch(/extra {7}"o-99" {2}table no row, read model v\d+/);

    const healed = await verify(['--collection', 'orders', '--heal', '--settle', '500ms']);
    expect(healed.output).toContain('heal: 3 rows sent again as upserts, 1 as deletes');
    expect(healed.output).toMatch(/no drift: the read model equals the table\n$/);
    expect(healed.code).toBe(0);
    expect(await readModel.get('orders', 'o-99')).toBeUndefined();
    await db.expectReadModelEqualsWriteTable(services, 'the read model to equal the table after the heal');
  }, 120_000);

  it('exits 1 with the reason for a collection no table is captured into, and for a bad command line', async () => {
    const unknown = await verify(['--collection', 'oders']);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('no table is captured into collection "oders": the captured collections are "orders"');
    const bad = await verify(['--settle', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('--collection');
    expect(bad.output).toContain('--settle');
  }, 60_000);
});
