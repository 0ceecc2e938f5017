import { newPglite } from '../common/pglite.fixture.js';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import { sqlFromPglite, type SqlDatabase } from '../common/sql.js';
import { applyDemoOrdersSchema, applyOutboxSchema } from '../publisher/capture/postgres/schema.js';
import { loadDemoConfig } from './config.js';
import { z } from 'zod';
import { createWriteApp } from './write-app.js';
import { EventTooLargeError } from '../common/errors.js';
import type { ChangeEvent } from '../events/envelope.js';
import { createHashtagMap, encodePosts } from '../transports/x/post-codec.js';

let db: SqlDatabase;
let server: Server;
let base: string;

beforeAll(async () => {
  db = sqlFromPglite(await newPglite(), { owned: true });
  await applyOutboxSchema(db);
  await applyDemoOrdersSchema(db);
  let n = 0;
  ({ server, url: base } = await listenOnLoopback(createWriteApp({ db, logger: createLogger({ level: 'silent' }), newId: () => `gen-${++n}` })));
});

/** Serves `app` on a free loopback port. */
async function listenOnLoopback(app: ReturnType<typeof createWriteApp>): Promise<{ server: Server; url: string }> {
  const listening = await new Promise<Server>((resolve) => {
    const started = app.listen(0, '127.0.0.1', () => {
      resolve(started);
    });
  });
  const address = listening.address();
  return { server: listening, url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? String(address.port) : '0'}` };
}

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await db.close();
});

const json = (method: string, path: string, body: unknown) =>
  fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function outboxFor(key: string): Promise<{ op: string; version: unknown }[]> {
  const { rows } = await db.query('SELECT op, version FROM tweetbus_outbox WHERE aggregateid = $1 ORDER BY seq', [key]);
  return rows.map((r) => ({ op: String(r.op), version: r.version }));
}

describe('the write-side app', () => {
  it('inserts an order and the trigger records it in the outbox in the same transaction', async () => {
    const res = await json('POST', '/orders', { id: 'w1', status: 'NEW', customer_name: 'Ada' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/orders/w1');
    expect(await outboxFor('w1')).toHaveLength(1);
  });

  it('gives an order without an id a generated one', async () => {
    const res = await json('POST', '/orders', { status: 'NEW' });
    expect(((await res.json()) as { id: string }).id).toBe('gen-1');
  });

  it('refuses a second insert of the same id with 409 and records nothing more', async () => {
    await json('POST', '/orders', { id: 'w2', status: 'NEW' });
    const res = await json('POST', '/orders', { id: 'w2', status: 'PAID' });
    expect(res.status).toBe(409);
    expect(await outboxFor('w2')).toHaveLength(1);
  });

  it('updates an order and the outbox gets a higher version', async () => {
    await json('POST', '/orders', { id: 'w3', status: 'NEW' });
    const res = await json('PUT', '/orders/w3', { status: 'SHIPPED' });
    expect(res.status).toBe(200);
    const rows = await outboxFor('w3');
    expect(rows).toHaveLength(2);
    expect(BigInt(String(rows[1]?.version))).toBeGreaterThan(BigInt(String(rows[0]?.version)));
  });

  it('answers an update of a missing order with 404', async () => {
    expect((await json('PUT', '/orders/nope', { status: 'SHIPPED' })).status).toBe(404);
  });

  it('deletes an order with 204, and the trigger records an op=delete row with a higher version', async () => {
    await json('POST', '/orders', { id: 'w5', status: 'NEW' });
    const res = await fetch(`${base}/orders/w5`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect((await fetch(`${base}/orders/w5`)).status).toBe(404);
    const rows = await outboxFor('w5');
    expect(rows.map((r) => r.op)).toEqual(['upsert', 'delete']);
    expect(BigInt(String(rows[1]?.version))).toBeGreaterThan(BigInt(String(rows[0]?.version)));
  });

  it('answers a delete of a missing order with a 404 problem and records nothing', async () => {
    const res = await fetch(`${base}/orders/never-was`, { method: 'DELETE' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(((await res.json()) as { detail: string }).detail).toContain('never-was');
    expect(await outboxFor('never-was')).toHaveLength(0);
  });

  it('answers a second delete of the same order with 404 and records no second delete', async () => {
    await json('POST', '/orders', { id: 'w6', status: 'NEW' });
    expect((await fetch(`${base}/orders/w6`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/orders/w6`, { method: 'DELETE' })).status).toBe(404);
    expect((await outboxFor('w6')).map((r) => r.op)).toEqual(['upsert', 'delete']);
  });

  it('answers a delete with 503 problem when the write database fails', async () => {
    const failing: SqlDatabase = {
      query: () => Promise.reject(new Error('connection refused')),
      exec: () => Promise.reject(new Error('connection refused')),
      transaction: () => Promise.reject(new Error('connection refused')),
      close: () => Promise.resolve(),
    };
    const app = createWriteApp({ db: failing, logger: createLogger({ level: 'silent' }), newId: () => 'unused' });
    const down = await new Promise<Server>((resolve) => {
      const s: Server = app.listen(0, '127.0.0.1', () => {
        resolve(s);
      });
    });
    try {
      const address = down.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const res = await fetch(`http://127.0.0.1:${port}/orders/w1`, { method: 'DELETE' });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await new Promise((resolve) => down.close(resolve));
    }
  });

  it('answers invalid input with a 400 problem that names the field and writes nothing', async () => {
    const res = await json('POST', '/orders', { id: 'w4', status: '', colour: 'red' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await res.json()) as { detail: string };
    expect(problem.detail).toContain('status');
    expect(await outboxFor('w4')).toHaveLength(0);
  });

  it('answers a body that is not JSON with a 400 problem', async () => {
    const res = await fetch(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(res.status).toBe(400);
  });
});

describe('the demo configuration', () => {
  it('defaults to the documented ports and ./data', () => {
    const config = loadDemoConfig({}, []);
    expect(config.ports).toEqual({ writeApp: 3000, publisher: 3001, consumer: 3002, xEmulator: 3443 });
    expect(config.dataDir).toBe('./data');
    expect(config.fresh).toBe(false);
  });

  it('takes --fresh from the command line', () => {
    expect(loadDemoConfig({}, ['--fresh']).fresh).toBe(true);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadDemoConfig({ PUBLISHER_PORT: 'http' }, [])).toThrow(/PUBLISHER_PORT/);
    expect(() => loadDemoConfig({}, ['--fast'])).toThrow(/--fresh/);
  });
});

describe('the write-side app over X', () => {
  let checked: Server;
  let url: string;
  const hashtags = createHashtagMap(['orders'], '');
  /** The X transport's own check: the post must fit in 280 weighted characters. */
  const fitsInAPost = (event: ChangeEvent): string | undefined => {
    try {
      encodePosts([event], { hashtags });
      return undefined;
    } catch (err) {
      if (err instanceof EventTooLargeError) return err.message;
      throw err;
    }
  };

  beforeAll(async () => {
    ({ server: checked, url } = await listenOnLoopback(createWriteApp({ db, logger: createLogger({ level: 'silent' }), newId: () => 'unused', checkEvent: fitsInAPost })));
  });

  afterAll(async () => {
    await new Promise((resolve) => checked.close(resolve));
  });

  const send = (method: string, path: string, body: unknown) =>
    fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const long = 'Smith & Sons <UK> '.repeat(11).trim();

  it('refuses with a 400, and writes nothing, an order whose change could never fit in a post', async () => {
    const res = await send('POST', '/orders', { id: 'x1', status: 'NEW', customer_name: long });
    expect(res.status).toBe(400);
    const problem = z.object({ title: z.string(), detail: z.string() }).parse(await res.json());
    expect(problem.title).toBe('Order cannot be published');
    expect(problem.detail).toMatch(/^nothing was written: .*a post holds 280/);
    expect((await send('GET', '/orders/x1', undefined)).status).toBe(404);
    expect(await outboxFor('x1')).toEqual([]);
  });

  it('takes an order that fits, and refuses an update that would not fit, leaving the row and the outbox as they were', async () => {
    expect((await send('POST', '/orders', { id: 'x2', status: 'NEW', customer_name: 'Ada' })).status).toBe(201);
    const res = await send('PUT', '/orders/x2', { status: 'SHIPPED', customer_name: long });
    expect(res.status).toBe(400);
    expect(await (await fetch(`${url}/orders/x2`)).json()).toMatchObject({ status: 'NEW', customer_name: 'Ada' });
    expect(await outboxFor('x2')).toHaveLength(1);
  });
});
