import { PGlite } from '@electric-sql/pglite';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { TransportError } from '../common/errors.js';
import { sqlFromPglite } from '../common/sql.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { EventPublisher } from '../transports/transport.js';
import { createPgliteOutboxListener } from './capture/postgres/outbox-listener.js';
import { createPostgresOutbox } from './capture/postgres/postgres-outbox.js';
import { applyDemoOrdersSchema } from './capture/postgres/schema.js';
import { startPublisher, type PublisherServiceOptions } from './service.js';

const pglite = PGlite.create();
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

async function givenPublisher(publisher: EventPublisher, overrides: Partial<PublisherServiceOptions> = {}) {
  const pg = await pglite;
  const db = sqlFromPglite(pg, { owned: false });
  schemas += 1;
  await db.exec(`CREATE SCHEMA service_test_${schemas}; SET search_path TO service_test_${schemas}`);
  await applyDemoOrdersSchema(db);
  const outbox = createPostgresOutbox({ db });
  const listener = createPgliteOutboxListener(pg);
  await listener.ready;
  const service = await startPublisher({
    reader: outbox,
    writer: outbox,
    outboxCheck: outbox,
    publisher,
    logger: pino({ level: 'silent' }),
    port: 0,
    host: '127.0.0.1',
    collections: ['orders'],
    about: { name: 'tweetbus-publisher', version: 'test', transport: 'fake', outbox: 'embedded' },
    pollIntervalMs: 20,
    wake: listener.wake,
    ...overrides,
  });
  return { db, service, listener };
}

async function until(predicate: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not met');
}

describe('publisher service', () => {
  it('publishes what the legacy callback stored, and marks it published', async () => {
    const transport = recordingPublisher();
    const { db, service, listener } = await givenPublisher(transport.publisher);

    const response = await fetch(`${service.url}/order?orderId=o-1&status=NEW`);
    expect(response.status).toBe(202);

    await until(() => transport.sent.length === 1);
    expect(transport.sent[0]).toMatchObject({ collection: 'orders', key: 'o-1', data: { status: 'NEW' } });
    await until(async () => (await db.query('SELECT 1 FROM tweetbus_outbox WHERE published_at IS NULL')).rows.length === 0);
    await service.close();
    await listener.close();
  });

  it('publishes a row the capture trigger wrote in the same database', async () => {
    const transport = recordingPublisher();
    const { db, service, listener } = await givenPublisher(transport.publisher, { pollIntervalMs: 60_000 });

    await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('t-1', 'NEW')`);

    // The poll interval is a minute: only the commit notification can wake the relay this soon.
    await until(() => transport.sent.length === 1);
    expect(transport.sent[0]).toMatchObject({ key: 't-1', source: 'dvx_orders' });
    await service.close();
    await listener.close();
  });

  it('reports not ready while the transport refuses the credentials, and keeps the events', async () => {
    const transport = recordingPublisher();
    transport.refuseCredentials();
    const { db, service, listener } = await givenPublisher(transport.publisher);

    await fetch(`${service.url}/order?orderId=o-2`);
    await until(() => service.relay.stats().lastError?.kind === 'auth');

    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { detail: string }).detail).toMatch(/^transport: /);
    expect((await db.query('SELECT 1 FROM tweetbus_outbox WHERE published_at IS NULL')).rows).toHaveLength(1);
    await service.close();
    await service.close();
    await listener.close();
  });
});
