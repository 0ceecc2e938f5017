import { newPglite } from '../common/pglite.fixture.js';
import { createLogger } from '../common/logger.js';
import { afterAll, describe, expect, it } from 'vitest';
import { TransportError } from '../common/errors.js';
import { sqlFromPglite } from '../common/sql.js';
import { waitUntil } from '../common/wait.fixture.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { EventPublisher } from '../transports/transport.js';
import { fakeLeadership } from './capture/leadership.fixture.js';
import { createPgliteOutboxListener } from './capture/postgres/outbox-listener.js';
import { createPostgresOutbox, type PostgresOutbox } from './capture/postgres/postgres-outbox.js';
import { applyDemoOrdersSchema } from './capture/postgres/schema.js';
import { startPublisher, type PublisherServiceOptions } from './service.js';

const pglite = newPglite();
afterAll(async () => {
  await (await pglite).close();
});
let schemas = 0;

/** A transport that records what it acknowledged and can be told to refuse the credentials. */
function recordingPublisher() {
  const sent: ChangeEvent[] = [];
  let refuse = false;
  const publisher: EventPublisher = {
    publish(events) {
      if (refuse) return Promise.reject(new TransportError('auth', '401 Unauthorized'));
      sent.push(...events);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  return { publisher, sent, refuseCredentials: () => { refuse = true; } };
}

type Overrides = Partial<PublisherServiceOptions> | ((outbox: PostgresOutbox) => Partial<PublisherServiceOptions>);

async function givenPublisher(publisher: EventPublisher, overrides: Overrides = {}) {
  const pg = await pglite;
  const db = sqlFromPglite(pg, { owned: false });
  schemas += 1;
  await db.exec(`CREATE SCHEMA service_test_${schemas}; SET search_path TO service_test_${schemas}`);
  await applyDemoOrdersSchema(db);
  const outbox = createPostgresOutbox({ db }, { logger: createLogger({ level: 'silent' }) });
  const listener = createPgliteOutboxListener(pg, { logger: createLogger({ level: 'silent' }) });
  await listener.ready;
  const service = await startPublisher({
    reader: outbox,
    writer: outbox,
    outboxCheck: outbox,
    publisher,
    logger: createLogger({ level: 'silent' }),
    port: 0,
    host: '127.0.0.1',
    collections: ['orders'],
    about: { name: 'tweetbus-publisher', version: 'test', transport: 'fake', outbox: 'embedded' },
    pollIntervalMs: 20,
    wake: listener.wake,
    ...(typeof overrides === 'function' ? overrides(outbox) : overrides),
  });
  return { db, service, listener };
}

describe('publisher service', () => {
  it('publishes what the legacy callback stored, and marks it published', async () => {
    const transport = recordingPublisher();
    const { db, service, listener } = await givenPublisher(transport.publisher);

    const response = await fetch(`${service.url}/order?orderId=o-1&status=NEW`);
    expect(response.status).toBe(202);

    await waitUntil('the order to be published', () => transport.sent.length === 1);
    expect(transport.sent[0]).toMatchObject({ collection: 'orders', key: 'o-1', data: { status: 'NEW' } });
    await waitUntil('the row to be marked published', async () => (await db.query('SELECT 1 FROM tweetbus_outbox WHERE published_at IS NULL')).rows.length === 0);
    await service.close();
    await listener.close();
  });

  it('publishes a row the capture trigger wrote in the same database', async () => {
    const transport = recordingPublisher();
    const { db, service, listener } = await givenPublisher(transport.publisher, { pollIntervalMs: 60_000 });

    await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('t-1', 'NEW')`);

    // The poll interval is a minute: only the commit notification can wake the relay this soon.
    await waitUntil('the captured row to be published', () => transport.sent.length === 1);
    expect(transport.sent[0]).toMatchObject({ key: 't-1', source: 'dvx_orders' });
    await service.close();
    await listener.close();
  });

  it('reports not ready while the transport refuses the credentials, and keeps the events', async () => {
    const transport = recordingPublisher();
    transport.refuseCredentials();
    const { db, service, listener } = await givenPublisher(transport.publisher);

    await fetch(`${service.url}/order?orderId=o-2`);
    await waitUntil('the transport to refuse the credentials', () => service.relay.stats().lastError?.kind === 'auth');

    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { detail: string }).detail).toMatch(/^transport: /);
    expect((await db.query('SELECT 1 FROM tweetbus_outbox WHERE published_at IS NULL')).rows).toHaveLength(1);
    await service.close();
    await service.close();
    await listener.close();
  });

  it('reports not ready once one outbox batch has been retried longer than RELAY_STUCK_AFTER_MS, naming its event', async () => {
    let down = true;
    const publisher: EventPublisher = {
      publish: () => (down ? Promise.reject(new TransportError('retryable', 'X answered 503')) : Promise.resolve()),
      close: () => Promise.resolve(),
    };
    const { service, listener } = await givenPublisher(publisher, { stuckAfterMs: 1_000, backoff: () => 50 });

    await fetch(`${service.url}/order?orderId=o-stuck`);
    const stuck = await waitUntil('the relay to count as stuck', async () => {
      const res = await fetch(`${service.url}/readyz`);
      return res.status === 503 ? ((await res.json()) as { checks: Record<string, string> }) : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    expect(stuck.checks['relay']).toMatch(/^stuck for \d+ s retrying the outbox batch starting at event \S+ \(seq \d+\) \(\d+ attempts\); last error: X answered 503$/);
    expect(stuck.checks['outbox']).toBe('ok');
    const about = (await (await fetch(`${service.url}/about`)).json()) as { status: { relay: { retrying: { stuck: boolean } } } };
    expect(about.status.relay.retrying.stuck).toBe(true);

    down = false;
    await waitUntil('the relay to get through', async () => (await fetch(`${service.url}/readyz`)).status === 200, { timeoutMs: 10_000, intervalMs: 100 });
    expect(service.retrying()).toBeUndefined();
    await service.close();
    await listener.close();
  });

  it('runs the relay only while this instance leads, and steps down on close', async () => {
    const transport = recordingPublisher();
    const leadership = fakeLeadership();
    const { db, service, listener } = await givenPublisher(transport.publisher, { leadership: leadership.leadership });
    const role = async () => ((await (await fetch(`${service.url}/about`)).json()) as { status: { relay: { role: string } } }).status.relay.role;

    let wakeups = 0;
    listener.wake(() => {
      wakeups += 1;
    });

    // Each insert's commit notification is waited for: it would wake a relay that ran.
    await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('l-1', 'NEW')`);
    await waitUntil('the commit of l-1 to be notified', () => wakeups >= 1);
    expect(service.relay.stats().state).toBe('idle');
    expect(transport.sent).toEqual([]);
    expect(await role()).toBe('standby');

    leadership.elect();
    await waitUntil('the leader to publish l-1', () => transport.sent.length === 1);
    expect(await role()).toBe('leader');

    leadership.depose();
    await waitUntil('the deposed relay to stop', () => service.relay.stats().state === 'stopped');
    await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('l-2', 'NEW')`);
    await waitUntil('the commit of l-2 to be notified', () => wakeups >= 2);
    expect(service.relay.stats().state).toBe('stopped');
    expect(transport.sent.map((e) => e.key)).toEqual(['l-1']);

    await service.close();
    expect(leadership.closed()).toBe(true);
    await listener.close();
  });

  it('deletes published rows past the retention age and keeps the rest', async () => {
    const transport = recordingPublisher();
    transport.refuseCredentials();
    const now = new Date('2026-01-01T12:00:00Z');
    const { db, service, listener } = await givenPublisher(transport.publisher, (outbox) => ({
      now: () => now,
      retention: { outbox, maxAgeMs: 3_600_000, batchSize: 1, intervalMs: 20 },
    }));

    await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('old-1', 'NEW'), ('old-2', 'NEW'), ('recent', 'NEW'), ('unsent', 'NEW')`);
    await db.query(`UPDATE tweetbus_outbox SET published_at = '2026-01-01T10:00:00Z' WHERE aggregateid LIKE 'old-%'`);
    await db.query(`UPDATE tweetbus_outbox SET published_at = '2026-01-01T11:30:00Z' WHERE aggregateid = 'recent'`);

    const remaining = async () => (await db.query(`SELECT aggregateid FROM tweetbus_outbox ORDER BY aggregateid`)).rows.map((r) => r.aggregateid);
    await waitUntil('retention to delete the old rows', async () => (await remaining()).length === 2);
    // Published within the hour, or never published (the transport refuses): both stay.
    expect(await remaining()).toEqual(['recent', 'unsent']);
    await service.close();
    await listener.close();
  });
});

