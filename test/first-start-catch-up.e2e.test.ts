import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDrill, openDrillDatabases, type DrillDatabases } from './drill.fixture.js';
import { exitCode, openServiceGroup, startXEmulator, xEmulatorCredentials, type Service, type ServiceGroup } from './processes.fixture.js';

/**
 * Issue 24, a drill as an operator would run it: an X consumer that has never applied a batch has no
 * checkpoint. Posts made before its first apply (while it was down, or before it ever ran) must not
 * be skipped when it starts again: without a checkpoint it searches back X_CATCH_UP_ON_FIRST_START
 * (an hour by default). The services are the built processes; the write table is dvx_orders on the
 * real PostgreSQL, and the read model a PostgreSQL database of the test's own.
 */

let services: ServiceGroup;
let db: DrillDatabases;
let xEnv: Record<string, string>;

beforeAll(async () => {
  services = await openServiceGroup('tweetbus-first-start-');
  db = await openDrillDatabases('e2e_first_start');
  xEnv = await startXEmulator(services);
  await services.startReady('publisher', 'publisher/main.js', 'PUBLISHER_PORT', {
    ...xEnv,
    ...xEmulatorCredentials.publisher,
    OUTBOX_DATABASE_URL: db.outboxUrl,
    RELAY_POLL_INTERVAL_MS: '100',
  });
  await db.createOrdersTable();
}, 90_000);

afterAll(() => closeDrill(services, db));

const startConsumer = (name: string, env: Record<string, string>): Promise<Service & { readonly url: string }> =>
  services.startReady(name, 'consumer/main.js', 'CONSUMER_PORT', { ...xEnv, ...xEmulatorCredentials.consumer, ...env });

describe('an X consumer without a checkpoint', () => {
  it('restarted before its first apply, finds every post made meanwhile, and the read model equals dvx_orders row by row', async () => {
    const env = { STORE: 'postgres', POSTGRES_URL: db.readUrl, CHECKPOINT_NAME: 'first-start' };
    const first = await startConsumer('consumer-first', env);
    // It stops before anything was posted: it never applied a batch, so it never stored a checkpoint.
    first.child.kill('SIGTERM');
    expect(await exitCode(first.child)).toBe(0);

    // Meanwhile: inserts, updates and deletes, all posted to X while no consumer runs.
    await db.writeDb.transaction(async (tx) => {
      for (let i = 1; i <= 12; i += 1) {
        await tx.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ($1, 'NEW', $2)`, [`fs-${String(i)}`, `Customer ${String(i)}`]);
      }
    });
    await db.writeDb.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id IN ('fs-1', 'fs-2', 'fs-3')`);
    await db.writeDb.query(`DELETE FROM dvx_orders WHERE id IN ('fs-4', 'fs-5')`);
    await db.everythingPublished(services);

    const restarted = await startConsumer('consumer-restarted', env);
    await db.expectReadModelEqualsWriteTable(services, 'the restarted consumer to catch up');
    const { rows } = await db.writeDb.query('SELECT count(*)::int AS n FROM dvx_orders');
    expect(rows[0]?.n).toBe(10);
    // X allows one filtered-stream connection per app: the next test's consumer needs it.
    restarted.child.kill('SIGTERM');
    expect(await exitCode(restarted.child)).toBe(0);
  }, 90_000);

  it('with X_CATCH_UP_ON_FIRST_START=0 starts from now: the posts before it are left alone, the next one applies', async () => {
    const { url } = await startConsumer('consumer-from-now', { X_CATCH_UP_ON_FIRST_START: '0', CHECKPOINT_NAME: 'from-now', DATA_DIR: join(services.dir, 'from-now') });
    await db.writeDb.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ('fs-new', 'NEW', 'After the start')`);
    const found = await services.eventually(async () => ((await fetch(`${url}/api/orders/fs-new`)).status === 200 ? true : undefined), 'the new row');
    expect(found).toBe(true);
    expect((await fetch(`${url}/api/orders/fs-1`)).status).toBe(404);
  }, 90_000);
});
