import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDrill, openDrillDatabases, type DrillDatabases } from './drill.fixture.js';
import { freePort, openServiceGroup, ready, type Service, type ServiceGroup } from './processes.fixture.js';
import { startTestRedisServer, type TestRedisServer } from './redis-server.fixture.js';

/**
 * Issue 24, a drill as an operator would run it: Redis, without persistence, restarts while the
 * consumer lags (here: stopped with SIGSTOP, so it lags by exactly what was written meanwhile). The
 * stream and its group are gone with the events the consumer had not read. The publisher notices
 * (the stream's counters went back) and publishes again from the outbox every event the lost stream
 * may have held; the consumer notices its group is gone. Both say so at error level, and the read
 * model ends equal to dvx_orders row by row. The services are the built processes, Redis a
 * redis-server of the test's own.
 */

let services: ServiceGroup;
let redis: TestRedisServer;
let db: DrillDatabases;
let publisher: Service;
let consumer: Service;

beforeAll(async () => {
  services = await openServiceGroup('tweetbus-lost-stream-');
  redis = await startTestRedisServer();
  db = await openDrillDatabases('e2e_lost_stream');
  const transport = { TRANSPORT: 'redis-streams', REDIS_URL: redis.url };
  const [publisherPort, consumerPort] = [await freePort(), await freePort()];
  publisher = services.start('publisher', 'publisher/main.js', {
    ...transport,
    PUBLISHER_PORT: String(publisherPort),
    OUTBOX_DATABASE_URL: db.outboxUrl,
    RELAY_POLL_INTERVAL_MS: '100',
  });
  consumer = services.start('consumer', 'consumer/main.js', { ...transport, CONSUMER_PORT: String(consumerPort), STORE: 'postgres', POSTGRES_URL: db.readUrl });
  await services.eventually(ready(`http://127.0.0.1:${String(publisherPort)}`), 'the publisher to be ready', 60_000);
  await services.eventually(ready(`http://127.0.0.1:${String(consumerPort)}`), 'the consumer to be ready', 60_000);
  await db.createOrdersTable();
}, 90_000);

afterAll(async () => {
  try {
    consumer.child.kill('SIGCONT');
    await closeDrill(services, db);
  } finally {
    await redis.kill();
  }
});

async function writeOrders(prefix: string, count: number): Promise<void> {
  await db.writeDb.transaction(async (tx) => {
    for (let i = 1; i <= count; i += 1) {
      await tx.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ($1, 'NEW', $2)`, [`${prefix}-${String(i)}`, `Customer ${String(i)}`]);
    }
  });
}

describe('Redis restarted without persistence while the consumer lags', () => {
  it('is noticed by the publisher and the consumer, and the events it held are published again from the outbox', async () => {
    await writeOrders('before', 50);
    await db.expectReadModelEqualsWriteTable(services, 'the first rows to arrive');

    // The consumer stops reading; changes go on: new rows, updates and deletes, all in the stream only.
    consumer.child.kill('SIGSTOP');
    await writeOrders('lagged', 300);
    await db.writeDb.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id LIKE 'before-1%'`);
    await db.writeDb.query(`DELETE FROM dvx_orders WHERE id IN ('before-2', 'before-3', 'lagged-7')`);
    await db.everythingPublished(services);
    // Let the publisher read the stream's counters at least once with the lag in it.
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    await redis.kill();
    await redis.restart();
    consumer.child.kill('SIGCONT');

    await db.expectReadModelEqualsWriteTable(services, 'the read model to equal dvx_orders again', 60_000);

    const publisherLog = publisher.output.join('');
    const consumerLog = consumer.output.join('');
    expect(publisherLog).toMatch(/"level":50[^\n]*the stream lost entries no consumer had read/);
    expect(publisherLog).toMatch(/"level":50[^\n]*publishing them again from the outbox/);
    expect(consumerLog).toMatch(/"level":50[^\n]*entries of the stream were lost before this group read them/);
  }, 150_000);
});
