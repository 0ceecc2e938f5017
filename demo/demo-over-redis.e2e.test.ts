import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, StoreUnavailableError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { waitUntil } from '../common/wait.fixture.js';
import type { DemoConfig, DemoTransport } from './config.js';
import { startDemo, type Demo } from './demo.js';
import { aDemoConfig } from './demo-config.fixture.js';

/**
 * `npm start -- --transport redis-streams` against the real Redis on this machine: the same write side,
 * publisher and consumer as over X, with a stream in between.
 */

const logger = createLogger({ level: 'silent' });
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const stream = `tweetbus:test:demo:${String(process.pid)}:${String(Date.now())}`;
const transport: DemoTransport = {
  kind: 'redis-streams',
  publisher: { kind: 'redis-streams', url: redisUrl, stream, maxLen: 100_000 },
  consumer: { kind: 'redis-streams', url: redisUrl, stream, group: 'demo-consumer', consumerName: 'demo-test', deadLetterStream: `${stream}:dead`, claimIdleMs: 30_000 },
};
let demo: Demo;
let dataDir: string;
let redis: Redis;

function configFor(overTransport: DemoTransport, dir: string): DemoConfig {
  return aDemoConfig(dir, { transport: overTransport });
}

async function statusOf(id: string): Promise<number> {
  return (await fetch(`${demo.urls.consumer}/api/orders/${id}`)).status;
}

async function documentOf(id: string): Promise<{ version: string; data: Record<string, unknown> } | undefined> {
  const res = await fetch(`${demo.urls.consumer}/api/orders/${id}`);
  if (res.status !== 200) return undefined;
  return (await res.json()) as { version: string; data: Record<string, unknown> };
}

beforeAll(async () => {
  redis = new Redis(redisUrl);
  dataDir = await mkdtemp(join(tmpdir(), 'tweetbus-demo-redis-'));
  demo = await startDemo(configFor(transport, dataDir), logger);
});

afterAll(async () => {
  await demo.close();
  await redis.del(stream, `${stream}:dead`);
  redis.disconnect();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the demo over Redis Streams', () => {
  it('runs without the X emulator, and its source is ready', async () => {
    expect(demo.transport).toBe('redis-streams');
    expect(demo.emulator).toBeUndefined();
    expect(demo.urls.xEmulator).toBeUndefined();
    await expect(demo.source.check()).resolves.toBeUndefined();
  });

  it('turns an insert, an update and a delete into the read model through the stream', async () => {
    const post = await fetch(`${demo.urls.writeApp}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'r-1', status: 'NEW', customer_name: 'Smith & Sons' }),
    });
    expect(post.status).toBe(201);
    await waitUntil('the inserted order', () => documentOf('r-1'), { timeoutMs: 15_000, intervalMs: 50 });

    await fetch(`${demo.urls.writeApp}/orders/r-1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'SHIPPED', customer_name: 'Smith & Sons' }),
    });
    const shipped = await waitUntil('the update', async () => ((await documentOf('r-1'))?.data['status'] === 'SHIPPED' ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
    expect(shipped).toBe(true);

    // The entries on the stream are the JSON envelopes, keyed by collection/key.
    const entries = await redis.xrange(stream, '-', '+');
    const fields = entries.map(([, values]) => values);
    expect(fields.some((f) => f.includes('orders/r-1') && f.some((v) => v.includes('"status":"SHIPPED"')))).toBe(true);

    expect((await fetch(`${demo.urls.writeApp}/orders/r-1`, { method: 'DELETE' })).status).toBe(204);
    await waitUntil('the tombstone', async () => ((await statusOf('r-1')) === 404 ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
  });

  it('dead-letters a foreign entry in the read model and on the dead-letter stream, and keeps going', async () => {
    const id = await redis.xadd(stream, '*', 'event', '{"id": not an envelope');
    const letter = await waitUntil(
      'the dead-letter entry',
      async () => (await redis.xrange(`${stream}:dead`, '-', '+')).find(([, values]) => values.includes(id ?? '')),
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(letter[1]).toEqual(expect.arrayContaining(['reason', 'stream', stream, 'group', 'demo-consumer', 'entryId', id]));
    const res = await fetch(`${demo.urls.consumer}/api/_deadletters?limit=50`);
    const body = (await res.json()) as { items: { messageId: string; transport: string }[] };
    expect(body.items).toContainEqual(expect.objectContaining({ messageId: id, transport: 'redis-streams' }));

    await fetch(`${demo.urls.writeApp}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'r-2', status: 'NEW' }) });
    await waitUntil('the order after the foreign entry', () => documentOf('r-2'), { timeoutMs: 15_000, intervalMs: 50 });
  });

  // Issue 20's drill: each of these once stopped replication for good while /readyz said ready. Each is
  // the `event` field of an entry, a valid envelope but for one string; a database change follows it.
  it.each([
    ['a NUL in the event id', { id: 'ev\u0000x' }, /^id: contains a NUL character/],
    ['a NUL in the source', { source: 'dr\u0000ill' }, /^source: contains a NUL character/],
    ['a lone surrogate in a value', { key: 'p-sur', data: { id: 'p-sur', status: '\uD800' } }, /^data\.status contains a lone UTF-16 surrogate/],
    ['a lone surrogate in the key', { key: 'p-\uD800', data: { id: 'p-\uD800', status: 'A' } }, /^key: contains a lone UTF-16 surrogate/],
    ['a lone surrogate in a data key', { key: 'p-surk', data: { id: 'p-surk', '\uD800': 'A' } }, /^data: a key contains a lone UTF-16 surrogate/],
  ])('dead-letters an entry with %s, naming the field, and the next database change still applies', async (_name, override, reason) => {
    const envelope = { id: `ev-${String(Date.now())}`, source: 'drill', type: 'orders.upserted', collection: 'orders', key: 'p-ok', version: '1', op: 'upsert', data: { id: 'p-ok', status: 'A' }, createdAt: '2026-03-01T10:00:00.000Z', ...override };
    // JSON.stringify writes a lone surrogate as its escape, as any other writer of JSON would.
    const id = await redis.xadd(stream, '*', 'event', JSON.stringify(envelope));
    const canary = `r-canary-${String(Date.now())}`;
    await fetch(`${demo.urls.writeApp}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: canary, status: 'NEW' }) });

    await waitUntil('the change behind the hostile entry', () => documentOf(canary), { timeoutMs: 15_000, intervalMs: 50 });
    const body = (await (await fetch(`${demo.urls.consumer}/api/_deadletters?limit=50`)).json()) as { items: { messageId: string; reason: string }[] };
    expect(body.items.find((item) => item.messageId === id)?.reason).toMatch(reason);
    const dead = (await redis.xrange(`${stream}:dead`, '-', '+')).find(([, values]) => values.includes(id ?? ''));
    expect(dead?.[1]).toEqual(expect.arrayContaining(['reason', expect.stringMatching(reason) as unknown]));
    expect(await redis.xpending(stream, 'demo-consumer')).toEqual([0, null, null, null]);
    expect((await fetch(`${demo.urls.consumer}/readyz`)).status).toBe(200);
  });

  it('the live page names the transport, shows the messages read, and refuses hand posts', async () => {
    const state = (await (await fetch(`${demo.urls.writeApp}/demo/state`)).json()) as { transport: string; posts: { id: string; text: string }[] };
    expect(state.transport).toBe('Redis Streams');
    expect(state.posts.some((p) => p.text.includes('"key":"r-2"'))).toBe(true);
    const page = await (await fetch(`${demo.urls.writeApp}/`)).text();
    expect(page).toContain('On Redis Streams');
    expect(page).not.toContain('id="post-form"');
    const hand = await fetch(`${demo.urls.writeApp}/demo/hand-post`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'speaker', text: '#orders {"id":"h1"}' }),
    });
    expect(hand.status).toBe(409);
  });
});

describe('the demo over a Redis that does not answer', () => {
  it('stops at once with a message naming REDIS_URL and the address, without the password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tweetbus-demo-noredis-'));
    const dead = 'redis://:hunter2@127.0.0.1:1';
    try {
      const error = await startDemo(
        configFor({ kind: 'redis-streams', publisher: { ...transport.publisher, url: dead }, consumer: { ...transport.consumer, url: dead } }, dir),
        logger,
      ).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).toMatch(/REDIS_URL: Redis is not reachable at redis:\/\/:\*\*\*@127\.0\.0\.1:1 \(.*ECONNREFUSED.*\)\. Start one/);
      expect(String(error)).not.toContain('hunter2');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the demo while its read model keeps failing', () => {
  it('shows the batch it retries on the live page, turns the consumer not ready past CONSUMER_STUCK_AFTER_MS, and recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tweetbus-demo-stuck-'));
    const own = `${stream}:stuck`;
    const overOwn: DemoTransport = {
      kind: 'redis-streams',
      publisher: { ...transport.publisher, stream: own },
      consumer: { ...transport.consumer, stream: own, deadLetterStream: `${own}:dead` },
    };
    let down = false;
    const stuckDemo = await startDemo({ ...configFor(overOwn, dir), stuckAfterMs: { consumer: 1_000, relay: 60_000 } }, logger, {
      decorateStore: (store) => ({
        ...store,
        applyBatch: (events) => (down ? Promise.reject(new StoreUnavailableError('read model: could not apply a batch', { cause: new Error('the disk is gone') })) : store.applyBatch(events)),
      }),
    });
    try {
      const state = async () =>
        (await (await fetch(`${stuckDemo.urls.writeApp}/demo/state`)).json()) as { retrying: { consumer: { subject: string; attempts: number; lastError: string; stuck: boolean } | null } };
      expect((await state()).retrying.consumer).toBeNull();

      down = true;
      await fetch(`${stuckDemo.urls.writeApp}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'r-stuck', status: 'NEW' }) });
      const stuck = await waitUntil('the page to show the consumer stuck', async () => {
        const retrying = (await state()).retrying.consumer;
        return retrying?.stuck === true ? retrying : undefined;
      }, { timeoutMs: 15_000, intervalMs: 100 });
      expect(stuck.subject).toMatch(/^the batch starting at message \d+-\d+$/);
      expect(stuck.lastError).toBe('read model: could not apply a batch: the disk is gone');
      const readyz = await fetch(`${stuckDemo.urls.consumer}/readyz`);
      expect(readyz.status).toBe(503);
      expect(JSON.stringify(await readyz.json())).toContain(stuck.subject);

      down = false;
      await waitUntil('the order once the read model is back', async () => ((await fetch(`${stuckDemo.urls.consumer}/api/orders/r-stuck`)).status === 200 ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
      expect((await state()).retrying.consumer).toBeNull();
      expect((await fetch(`${stuckDemo.urls.consumer}/readyz`)).status).toBe(200);
    } finally {
      await stuckDemo.close();
      await redis.del(own, `${own}:dead`);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
