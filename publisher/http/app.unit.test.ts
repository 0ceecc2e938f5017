import { newPglite } from '../../common/pglite.fixture.js';
import { createLogger } from '../../common/logger.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sqlFromPglite, type SqlDatabase } from '../../common/sql.js';
import { changeEventToJson, type ChangeEvent } from '../../events/envelope.js';
import { versionAt } from '../../events/version-clock.js';
import type { OutboxWriter } from '../capture/outbox.js';
import { createPostgresOutbox, type PostgresOutbox } from '../capture/postgres/postgres-outbox.js';
import { applyOutboxSchema } from '../capture/postgres/schema.js';
import { createPublisherApp, type PublisherAppOptions } from './app.js';

const pglite = newPglite();
let db: SqlDatabase;
let outbox: PostgresOutbox;
let schemas = 0;

beforeAll(async () => {
  db = sqlFromPglite(await pglite, { owned: false });
});
afterAll(async () => {
  await (await pglite).close();
});
beforeEach(async () => {
  schemas += 1;
  await db.exec(`CREATE SCHEMA http_test_${schemas}; SET search_path TO http_test_${schemas}`);
  await applyOutboxSchema(db);
  outbox = createPostgresOutbox({ db }, { logger: createLogger({ level: 'silent' }) });
});
afterEach(async () => {
  await db.exec(`SET search_path TO public; DROP SCHEMA http_test_${schemas} CASCADE`);
});

const fixedNow = new Date('2024-05-01T10:00:00.000Z');

async function serve(overrides: Partial<PublisherAppOptions> = {}): Promise<{ url: string; server: Server }> {
  let ids = 0;
  const app = createPublisherApp({
    writer: outbox,
    collections: ['orders', 'customers'],
    logger: createLogger({ level: 'silent' }),
    about: { name: 'tweetbus-publisher', version: '0.1.0', transport: 'x', outbox: 'embedded' },
    readiness: [{ name: 'outbox', check: () => outbox.check() }],
    now: () => fixedNow,
    newId: () => `id-${++ids}`,
    maxBodyBytes: 4096,
    ...overrides,
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}`, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function envelope(overrides: Partial<ChangeEvent> = {}) {
  return changeEventToJson({
    id: 'evt-1',
    source: 'orders-service',
    type: 'orders.upserted',
    collection: 'orders',
    key: '8172',
    version: 7n,
    op: 'upsert',
    data: { id: '8172', status: 'SHIPPED' },
    createdAt: '2024-05-01T09:00:00.000Z',
    ...overrides,
  });
}

function postEvents(url: string, body: unknown) {
  return fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function outboxCount(): Promise<unknown> {
  return (await db.query('SELECT count(*)::int AS n FROM tweetbus_outbox')).rows[0]?.n;
}

describe('POST /events', () => {
  it('stores the events in the outbox before answering 202 with their ids', async () => {
    const { url } = await serve();

    const response = await postEvents(url, [envelope(), envelope({ id: 'evt-2', key: '8173', data: { id: '8173' } })]);

    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 2, ids: ['evt-1', 'evt-2'] });
    const rows = await outbox.readBatch(10);
    expect(rows.map((r) => r.event)).toEqual([
      expect.objectContaining({ id: 'evt-1', key: '8172', version: 7n, data: { id: '8172', status: 'SHIPPED' } }),
      expect.objectContaining({ id: 'evt-2', key: '8173' }),
    ]);
  });

  it('refuses a version more than an hour past its clock, which would hold the key, and takes one within it', async () => {
    const { url } = await serve();
    const farAhead = envelope({ version: 9_000_000_000_000_000_000n });
    const withinTheHour = envelope({ id: 'evt-2', version: versionAt(fixedNow.getTime() + 3_000_000) });

    const refused = await postEvents(url, [withinTheHour, farAhead]);

    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      errors: [{ pointer: '/1/version', detail: expect.stringMatching(/^\/1\/version: 9000000000000000000 stands for 2078-\S+, more than 3600000 ms past this publisher's clock \(VERSION_MAX_AHEAD_MS\)/) as unknown }],
    });
    expect(await outboxCount()).toBe(0);
    expect((await postEvents(url, [withinTheHour])).status).toBe(202);
  });

  it('accepts a retry of the same events without storing them twice', async () => {
    const { url } = await serve();

    await postEvents(url, [envelope()]);
    const retry = await postEvents(url, [envelope()]);

    expect(retry.status).toBe(202);
    expect(await outboxCount()).toBe(1);
  });

  it('answers an invalid event with a 400 problem naming the field, and writes nothing', async () => {
    const { url } = await serve();

    const response = await postEvents(url, [envelope(), { ...envelope({ id: 'evt-2' }), version: 'soon' }]);

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as { detail: string; errors: { pointer: string }[] };
    expect(problem.detail).toMatch(/^\/1\/version: /);
    expect(problem.errors.map((e) => e.pointer)).toEqual(['/1']);
    expect(await outboxCount()).toBe(0);
  });

  it('refuses an event for a collection that is not configured', async () => {
    const { url } = await serve();

    const response = await postEvents(url, [envelope({ collection: 'payments' })]);

    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/^\/0\/collection: "payments" is not a configured collection/);
    expect(await outboxCount()).toBe(0);
  });

  it('refuses a document key that MongoDB or JavaScript would misread', async () => {
    const { url } = await serve();

    const response = await postEvents(url, [envelope({ data: { id: '8172', $where: 'x' } })]);

    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/^\/0\/data: key "\$where" may not start with "\$"/);
  });

  it('refuses a body that is not an array of 1 to 500 events', async () => {
    const { url } = await serve();

    for (const body of [envelope(), [], Array.from({ length: 501 }, () => envelope())]) {
      const response = await postEvents(url, body);
      expect(response.status === 400 || response.status === 413).toBe(true);
    }
    const notArray = await postEvents(url, envelope());
    expect(((await notArray.json()) as { detail: string }).detail).toMatch(/^body: expected a JSON array/);
  });

  it('answers a body that is too large with 413', async () => {
    const { url } = await serve();

    const response = await postEvents(url, [envelope({ data: { id: '8172', note: 'x'.repeat(5000) } })]);

    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('answers malformed JSON with a 400 problem', async () => {
    const { url } = await serve();

    const response = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"id":' });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toBe('body: not valid JSON');
  });

  it('refuses an event the transport could never carry instead of accepting it', async () => {
    const { url } = await serve({ transportProblem: (e) => (e.key === 'huge' ? 'needs 400 weighted characters; a post holds 280' : undefined) });

    const response = await postEvents(url, [envelope(), envelope({ id: 'evt-2', key: 'huge', data: { id: 'huge' } })]);

    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toBe('/1: needs 400 weighted characters; a post holds 280');
    expect(await outboxCount()).toBe(0);
  });

  it('answers 503 and stores nothing when the outbox is unavailable', async () => {
    const broken: OutboxWriter = { append: () => Promise.reject(new Error('connection refused')) };
    const { url } = await serve({ writer: broken });

    const response = await postEvents(url, [envelope()]);

    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('GET /order (the original UTL_HTTP callback)', () => {
  it('stores an orders upsert with the dvx_orders row image, using the original parameter names', async () => {
    const { url } = await serve();
    const query = new URLSearchParams({
      orderId: 'o-42',
      customerName: 'Smith & Sons <UK>',
      status: 'NEW',
      customerId: 'c-7',
      shippingDestination: 'Utrecht',
      timestamp: '05-DEC-18 10.33.55.123456 PM',
    });

    const response = await fetch(`${url}/order?${query.toString()}`);

    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 1, ids: ['id-1'] });
    const [row] = await outbox.readBatch(10);
    expect(row?.event).toMatchObject({
      id: 'id-1',
      source: 'legacy',
      type: 'orders.upserted',
      collection: 'orders',
      key: 'o-42',
      op: 'upsert',
      createdAt: fixedNow.toISOString(),
      data: {
        id: 'o-42',
        status: 'NEW',
        customer_id: 'c-7',
        customer_name: 'Smith & Sons <UK>',
        shipping_destination: 'Utrecht',
        last_updated_timestamp: '2018-12-05T22:33:55Z',
      },
    });
  });

  it('gives later callbacks higher versions, so the latest wins', async () => {
    const { url } = await serve();

    await fetch(`${url}/order?orderId=o-1&status=NEW`);
    await fetch(`${url}/order?orderId=o-1&status=SHIPPED`);

    const rows = await outbox.readBatch(10);
    expect(rows.map((r) => r.event.data?.status)).toEqual(['NEW', 'SHIPPED']);
    const [first, second] = rows;
    expect(first && second && first.event.version < second.event.version).toBe(true);
  });

  it('stores the columns that were not sent as null and stamps the time of the call', async () => {
    const { url } = await serve();

    await fetch(`${url}/order?orderId=o-2`);

    const [row] = await outbox.readBatch(10);
    expect(row?.event.data).toEqual({
      id: 'o-2',
      status: null,
      customer_id: null,
      customer_name: null,
      shipping_destination: null,
      last_updated_timestamp: '2024-05-01T10:00:00Z',
    });
  });

  it('requires orderId and names it, writing nothing', async () => {
    const { url } = await serve();

    const response = await fetch(`${url}/order?customerName=Smith`);

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await response.json()) as { detail: string }).detail).toBe('orderId: required');
    expect(await outboxCount()).toBe(0);
  });

  it('names a timestamp it cannot read', async () => {
    const { url } = await serve();

    const response = await fetch(`${url}/order?orderId=o-3&timestamp=yesterday`);

    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/^timestamp: /);
  });

  it('refuses a parameter longer than its dvx_orders column', async () => {
    const { url } = await serve();

    const response = await fetch(`${url}/order?orderId=o-4&status=${'S'.repeat(101)}`);

    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/^status: /);
  });
});

describe('health endpoints', () => {
  it('tells what it is without any secret', async () => {
    const { url } = await serve();

    const about = (await (await fetch(`${url}/about`)).json()) as Record<string, unknown>;

    expect(about).toEqual({ name: 'tweetbus-publisher', version: '0.1.0', transport: 'x', outbox: 'embedded', collections: ['orders', 'customers'] });
  });

  it('is alive, and ready when the outbox answers', async () => {
    const { url } = await serve();

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { outbox: 'ok' } });
  });

  it('is not ready, with the reason, when a dependency fails', async () => {
    const { url } = await serve({
      readiness: [
        { name: 'outbox', check: () => outbox.check() },
        { name: 'transport', check: () => Promise.reject(new Error('the transport refuses the credentials')) },
      ],
    });

    const ready = await fetch(`${url}/readyz`);

    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { detail: string }).detail).toBe('transport: the transport refuses the credentials');
  });

  it('answers unknown routes with a 404 problem', async () => {
    const { url } = await serve();

    const response = await fetch(`${url}/nope`);

    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
