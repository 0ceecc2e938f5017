import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEventJson } from '../events/json-codec.js';
import { aChangeEvent } from '../events/change-event.fixture.js';
import { freePort, openServiceGroup, ready, type ServiceGroup } from './processes.fixture.js';

/**
 * The publisher and two consumers as separate processes over the real Redis, configured by environment
 * alone (TRANSPORT=redis-streams): processes in one group share the stream, and entries a member read
 * and never acknowledged, because it died, are taken over by a live member.
 */

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const stream = `tweetbus:test:services:${String(process.pid)}:${String(Date.now())}`;
let services: ServiceGroup;
let redis: Redis;
let ports: { publisher: number; a: number; b: number };

interface Stats {
  readonly applied: number;
  readonly batches: number;
}

const urlOf = (port: number): string => `http://127.0.0.1:${String(port)}`;

async function stats(port: number): Promise<Stats> {
  return (await (await fetch(`${urlOf(port)}/api/_stats`)).json()) as Stats;
}

async function documentAt(port: number, id: string): Promise<{ version: string } | undefined> {
  const res = await fetch(`${urlOf(port)}/api/orders/${id}`);
  return res.status === 200 ? ((await res.json()) as { version: string }) : undefined;
}

beforeAll(async () => {
  redis = new Redis(redisUrl);
  services = await openServiceGroup('tweetbus-redis-services-');
  ports = { publisher: await freePort(), a: await freePort(), b: await freePort() };
  const shared = { TRANSPORT: 'redis-streams', REDIS_URL: redisUrl, REDIS_STREAM: stream };
  services.start('publisher', 'publisher/main.js', { ...shared, PUBLISHER_PORT: String(ports.publisher), DATA_DIR: join(services.dir, 'publisher') });
  // Two members of one group, each with a read model of its own, so the test can tell who applied what.
  for (const [name, port] of [['a', ports.a], ['b', ports.b]] as const) {
    services.start(`consumer-${name}`, 'consumer/main.js', {
      ...shared,
      CONSUMER_PORT: String(port),
      DATA_DIR: join(services.dir, name),
      CHECKPOINT_NAME: 'readers',
      REDIS_CONSUMER_NAME: `reader-${name}`,
      REDIS_CLAIM_IDLE_MS: '1000',
    });
  }
  for (const port of [ports.publisher, ports.a, ports.b]) await services.eventually(ready(urlOf(port)), `the service on ${String(port)} to be ready`, 60_000);
}, 90_000);

afterAll(async () => {
  await services.close();
  await redis.del(stream, `${stream}:dead`);
  redis.disconnect();
});

describe('the services over Redis Streams', () => {
  it('share the stream between two consumers of one group, each event applied by one of them', async () => {
    for (let round = 0; round < 6; round += 1) {
      for (let i = 0; i < 5; i += 1) {
        const res = await fetch(`${urlOf(ports.publisher)}/order?orderId=g-${String(round)}-${String(i)}&status=NEW&customerName=Ada`);
        expect(res.status).toBe(202);
      }
      await services.eventually(async () => {
        const [a, b] = await Promise.all([stats(ports.a), stats(ports.b)]);
        return a.applied + b.applied >= (round + 1) * 5 ? true : undefined;
      }, `round ${String(round)} applied`);
    }
    const [a, b] = await Promise.all([stats(ports.a), stats(ports.b)]);
    expect(a.applied + b.applied).toBe(30);
    expect(a.batches).toBeGreaterThan(0);
    expect(b.batches).toBeGreaterThan(0);
  });

  it("takes over the entries a member read and never acknowledged, as when it was killed mid-batch", async () => {
    // A member that read two entries and died: they sit in its pending list, unacknowledged.
    const orphans = [1n, 2n].map((version) =>
      aChangeEvent({ id: `orphan-${String(version)}`, collection: 'orders', key: 'orphan', version, data: { id: 'orphan', status: `v${String(version)}` } }),
    );
    // One MULTI, so the live members (blocked on new entries) are served only after the dead one took them.
    const transaction = redis.multi();
    for (const event of orphans) transaction.xadd(stream, '*', 'event', encodeEventJson(event), 'key', 'orders/orphan');
    transaction.call('XREADGROUP', 'GROUP', 'readers', 'reader-dead', 'COUNT', '10', 'STREAMS', stream, '>');
    const results = await transaction.exec();
    expect(JSON.stringify(results?.at(-1))).toContain('orphan-2');
    expect(await redis.xpending(stream, 'readers')).toEqual(expect.arrayContaining([2]));

    const doc = await services.eventually(
      async () => (await documentAt(ports.a, 'orphan')) ?? (await documentAt(ports.b, 'orphan')),
      'a live member to claim and apply the dead member\'s entries',
    );
    expect(doc.version).toBe('2');
    await services.eventually(async () => {
      const pending = await redis.xpending(stream, 'readers');
      return pending[0] === 0 ? true : undefined;
    }, 'nothing left pending');
  });
});
