import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aChangeEvent } from '../events/change-event.fixture.js';
import type { ChangeEvent } from '../events/envelope.js';
import { encodeEventJson } from '../events/json-codec.js';
import { createEventSigner } from '../events/signature.js';
import { freePort, openServiceGroup, ready, type ServiceGroup } from './processes.fixture.js';

/**
 * The publisher and two consumers as separate processes over the real Redis, configured by environment
 * alone (TRANSPORT=redis-streams, TRUST=signed): processes in one group share the stream, entries a
 * member read and never acknowledged, because it died, are taken over by a live member, and entries
 * a foreign producer writes to the stream without the publisher's key are dead-lettered.
 */

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const hmacKey = 'redis-test-key-redis-test-key-redis-test-key';
const signer = createEventSigner(hmacKey);
const sign = (event: ChangeEvent): string => signer.sign(event);
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
  const shared = { TRANSPORT: 'redis-streams', REDIS_URL: redisUrl, REDIS_STREAM: stream, TRUST_HMAC_KEY: hmacKey };
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
      TRUST: 'signed',
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
    for (const event of orphans) transaction.xadd(stream, '*', 'event', encodeEventJson(event, sign), 'key', 'orders/orphan');
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

  it('dead-letters what a foreign producer writes without the key: an unsigned entry, and an edited entry re-signed with another key', async () => {
    const res = await fetch(`${urlOf(ports.publisher)}/order?orderId=signed-1&status=NEW&customerName=Ada`);
    expect(res.status).toBe(202);
    const genuine = await services.eventually(
      async () => (await documentAt(ports.a, 'signed-1')) ?? (await documentAt(ports.b, 'signed-1')),
      'the publisher\'s signed event applied',
    );
    const [entry] = (await redis.xrange(stream, '-', '+')).filter(([, fields]) => fields.includes('orders/signed-1'));
    const envelope: unknown = JSON.parse(entry?.[1][entry[1].indexOf('event') + 1] ?? '');
    expect(envelope).toMatchObject({ key: 'signed-1', signature: expect.stringMatching(/^[\w-]{11}$/) as unknown });

    const unsigned = aChangeEvent({ id: 'foreign-1', key: 'signed-1', version: 9_000_000_000_000_000_000n, data: { id: 'signed-1', status: 'HACKED' } });
    const forger = createEventSigner('a-key-the-publisher-never-had-000000');
    const ids = [
      String(await redis.xadd(stream, '*', 'event', encodeEventJson(unsigned), 'key', 'orders/signed-1')),
      String(await redis.xadd(stream, '*', 'event', encodeEventJson({ ...unsigned, id: 'foreign-2' }, (e) => forger.sign(e)), 'key', 'orders/signed-1')),
    ];

    const dead = await services.eventually(async () => {
      const entries = await redis.xrange(`${stream}:dead`, '-', '+');
      const reasons = new Map(entries.map(([, fields]) => [fields[fields.indexOf('entryId') + 1], fields[fields.indexOf('reason') + 1]]));
      return ids.every((id) => reasons.has(id)) ? reasons : undefined;
    }, 'both foreign entries on the dead-letter stream');
    expect(dead.get(ids[0])).toBe('not signed: TRUST=signed applies only events the publisher signed with TRUST_HMAC_KEY');
    expect(dead.get(ids[1])).toMatch(/^bad signature/);
    const after = (await documentAt(ports.a, 'signed-1')) ?? (await documentAt(ports.b, 'signed-1'));
    expect(after).toEqual(genuine);
  });
});
