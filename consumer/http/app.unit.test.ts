import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { createConsumerStats } from '../stats.js';
import { createEmbeddedReadModelStore } from '../stores/embedded/embedded-read-model-store.js';
import { aDeadLetter, aDelete, anUpsert } from '../stores/read-model-store.contract.js';
import type { ReadModelStore } from '../stores/read-model-store.js';
import type { ReadinessCheck } from '../../common/http/readiness.js';
import { createQueryApp } from './app.js';

const silent = createLogger({ level: 'silent' });

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

async function getJson(url: string): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
  const res = await fetch(url);
  const body: unknown = await res.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('expected a JSON object');
  return { status: res.status, type: res.headers.get('content-type'), body: { ...body } };
}

describe('query API', () => {
  let store: ReadModelStore;
  let server: Server;
  let base: string;
  let sourceReady = true;

  beforeAll(async () => {
    store = await createEmbeddedReadModelStore({}, { now: () => new Date('2026-03-01T12:00:00.000Z'), logger: createLogger({ level: 'silent' }) });
    await store.applyBatch([
      anUpsert('1001', 1_900_000_000_000_000_001n, { status: 'SHIPPED', total: 12, paid: true }),
      anUpsert('1002', 2, { status: 'OPEN', total: '12' }),
      anUpsert('1003', 3, { status: 'OPEN', total: 30 }),
      anUpsert('1004', 4, { status: 'OPEN' }),
      anUpsert('1005', 5, { status: 'OPEN' }),
      aDelete('1005', 6),
      anUpsert('a/b ü', 1, { status: 'ODD' }),
    ]);
    await store.putDeadLetter(aDeadLetter('m1'));
    const stats = createConsumerStats();
    stats.recordBatch({ applied: 3, skipped: 1, deadLettered: 1 }, new Date('2026-03-01T12:00:00.000Z'));
    const readiness: ReadinessCheck[] = [
      { name: 'store', check: () => store.check() },
      {
        name: 'source',
        check: () =>
          sourceReady ? Promise.resolve() : Promise.reject(new StoreUnavailableError('X stream is waiting', { cause: new Error('connect to https://u:hunter2@x fails') })),
      },
    ];
    server = createServer(createQueryApp({ store, collections: ['orders', 'customers'], readiness, stats, logger: silent }));
    base = await listen(server);
  });

  afterAll(async () => {
    await close(server);
    await store.close();
  });

  it('serves a document with its version as a decimal string', async () => {
    const { status, body } = await getJson(`${base}/api/orders/1001`);

    expect(status).toBe(200);
    expect(body).toEqual({
      id: '1001',
      version: '1900000000000000001',
      data: { id: '1001', status: 'SHIPPED', total: 12, paid: true },
      eventId: expect.any(String) as unknown,
      source: 'contract-test',
      appliedAt: '2026-03-01T12:00:00.000Z',
    });
  });

  it('serves a document whose id needs percent-encoding', async () => {
    const { status, body } = await getJson(`${base}/api/orders/${encodeURIComponent('a/b ü')}`);

    expect(status).toBe(200);
    expect(body['id']).toBe('a/b ü');
  });

  it('answers 404 problem+json for a missing document', async () => {
    const { status, type, body } = await getJson(`${base}/api/orders/nope`);

    expect(status).toBe(404);
    expect(type).toMatch(/^application\/problem\+json/);
    expect(body).toMatchObject({ type: 'about:blank', title: 'Not found', status: 404, detail: expect.any(String) as unknown });
  });

  it('answers 404 for a deleted document', async () => {
    expect((await getJson(`${base}/api/orders/1005`)).status).toBe(404);
  });

  it('answers 404 for a collection that is not configured', async () => {
    const { status, body } = await getJson(`${base}/api/invoices/1`);

    expect(status).toBe(404);
    expect(body['title']).toBe('Unknown collection');
  });

  it('answers 400 naming the collection parameter when the name is not valid', async () => {
    const { status, type, body } = await getJson(`${base}/api/bad-name/1`);

    expect(status).toBe(400);
    expect(type).toMatch(/^application\/problem\+json/);
    expect(body).toMatchObject({ parameter: 'collection', detail: expect.stringContaining('collection') as unknown });
  });

  it('finds by field, ordered by key, with a limit', async () => {
    const { status, body } = await getJson(`${base}/api/orders?status=OPEN&limit=2`);

    expect(status).toBe(200);
    expect(body).toMatchObject({ collection: 'orders', count: 2, limit: 2 });
    expect(body['items']).toEqual([expect.objectContaining({ id: '1002' }), expect.objectContaining({ id: '1003' })]);
  });

  it('a numeric query value matches both the number and the text', async () => {
    const { body } = await getJson(`${base}/api/orders?total=12`);

    expect(body['items']).toEqual([expect.objectContaining({ id: '1001' }), expect.objectContaining({ id: '1002' })]);
  });

  it('true matches the boolean, and a repeated field matches any of its values', async () => {
    expect((await getJson(`${base}/api/orders?paid=true`)).body['count']).toBe(1);
    expect((await getJson(`${base}/api/orders?status=SHIPPED&status=ODD`)).body['count']).toBe(2);
  });

  it('find never returns deleted documents', async () => {
    const { body } = await getJson(`${base}/api/orders?status=OPEN`);

    expect(body['items']).not.toContainEqual(expect.objectContaining({ id: '1005' }));
  });

  it('answers 400 naming a field parameter that could not be a document key', async () => {
    for (const field of ['$where', 'a.b', '__proto__']) {
      const { status, body } = await getJson(`${base}/api/orders?${encodeURIComponent(field)}=1`);
      expect(status).toBe(400);
      expect(body['parameter']).toBe(field);
    }
  });

  it('answers 400 naming limit when it is not a whole number from 1 to 500', async () => {
    for (const limit of ['0', '501', 'ten', '1.5']) {
      const { status, body } = await getJson(`${base}/api/orders?limit=${limit}`);
      expect(status).toBe(400);
      expect(body['parameter']).toBe('limit');
    }
  });

  it('lists dead letters', async () => {
    const { status, body } = await getJson(`${base}/api/_deadletters?limit=5`);

    expect(status).toBe(200);
    expect(body['items']).toEqual([aDeadLetter('m1')]);
  });

  it('reports the pipeline counters', async () => {
    const { body } = await getJson(`${base}/api/_stats`);

    expect(body).toMatchObject({ applied: 3, skipped: 1, deadLettered: 1, lastAppliedAt: '2026-03-01T12:00:00.000Z' });
  });

  it('healthz says the process is alive', async () => {
    expect(await getJson(`${base}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('readyz is 200 while every dependency answers, and 503 problem+json with the reason otherwise', async () => {
    expect(await getJson(`${base}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready', checks: { store: 'ok', source: 'ok' } } });

    sourceReady = false;
    try {
      const { status, type, body } = await getJson(`${base}/readyz`);
      expect(status).toBe(503);
      expect(type).toMatch(/^application\/problem\+json/);
      expect(body['detail']).toContain('source: X stream is waiting');
      expect(JSON.stringify(body)).not.toContain('hunter2');
    } finally {
      sourceReady = true;
    }
  });

  it('answers 404 problem+json for an unknown route', async () => {
    const { status, type } = await getJson(`${base}/nothing/here`);

    expect(status).toBe(404);
    expect(type).toMatch(/^application\/problem\+json/);
  });
});
