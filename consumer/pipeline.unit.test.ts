import { newPglite } from '../common/pglite.fixture.js';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreRefusedError, StoreUnavailableError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { InboundMessage } from '../transports/transport.js';
import { versionAt } from '../events/version-clock.js';
import { createConsumerPipeline } from './pipeline.js';
import { createConsumerStats, type ConsumerStats } from './stats.js';
import { createEmbeddedReadModelStore } from './stores/embedded/embedded-read-model-store.js';
import type { ReadModelStore } from './stores/read-model-store.js';
import { authorsTrust, openTrust, type TrustPolicy } from './trust.js';

/**
 * A stand-in for the post codec: `{"key":"1","version":3,"status":"OPEN"}` upserts `orders/1`,
 * `{"key":"1","version":4,"delete":true}` deletes it, an array of those is one message of several
 * events; anything else is rejected with a reason. It validates nothing else, so a status with a
 * NUL reaches the store as a schema that missed it would let it.
 */
const fakeDecoder: MessageDecoder = (message) => {
  let value: unknown;
  try {
    value = JSON.parse(message.text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const items: readonly unknown[] = Array.isArray(value) ? value : [value];
  const events: ChangeEvent[] = [];
  for (const [i, item] of items.entries()) {
    if (typeof item !== 'object' || item === null || !('key' in item) || !('version' in item)) {
      return { ok: false, reason: 'needs key and version' };
    }
    const { key, version } = item;
    if (typeof key !== 'string' || typeof version !== 'number') return { ok: false, reason: 'bad key or version' };
    const isDelete = 'delete' in item;
    const status: unknown = 'status' in item ? item.status : undefined;
    events.push({
      id: `evt:${message.id}:${i}`,
      source: 'test',
      type: isDelete ? 'orders.deleted' : 'orders.upserted',
      collection: 'orders',
      key,
      version: BigInt(version),
      op: isDelete ? 'delete' : 'upsert',
      data: isDelete ? null : { id: key, status: typeof status === 'string' ? status : 'NONE' },
      createdAt: '2026-03-01T10:00:00.000Z',
    });
  }
  return { ok: true, events };
};

let nextId = 100;
function aMessage(text: string, author?: { id: string; username?: string }): InboundMessage {
  nextId += 1;
  const id = String(nextId);
  return {
    id,
    text,
    receivedAt: new Date('2026-03-01T10:00:01.000Z'),
    ...(author === undefined ? {} : { author: { id: author.id, username: author.username }, links: [] }),
  };
}

const upsertText = (key: string, version: number, status: string) => JSON.stringify({ key, version, status });

/** A store whose writes fail, as when the database is down. */
function unavailable(store: ReadModelStore): ReadModelStore {
  const down = () => Promise.reject(new StoreUnavailableError('read model: connection refused'));
  return { ...store, applyBatch: down, putDeadLetter: down };
}

describe('consumer pipeline', () => {
  let pglite: PGlite;
  let schemas = 0;
  let store: ReadModelStore | undefined;

  beforeAll(async () => {
    pglite = await newPglite();
  });
  afterAll(async () => {
    await pglite.close();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  /** given a pipeline over a fresh embedded store, with a log sink and its own stats */
  async function givenAPipeline(options: { trust?: TrustPolicy; storeWrapper?: (s: ReadModelStore) => ReadModelStore; decode?: MessageDecoder } = {}) {
    schemas += 1;
    store = await createEmbeddedReadModelStore({ pglite }, { schema: `pipeline_${schemas}`, logger: createLogger({ level: 'silent' }) });
    const realStore = store;
    const logs: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: {
        write(line: string) {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    });
    const stats: ConsumerStats = createConsumerStats();
    const handle = createConsumerPipeline({
      decode: options.decode ?? fakeDecoder,
      trust: options.trust ?? openTrust(),
      store: options.storeWrapper?.(realStore) ?? realStore,
      logger,
      now: () => new Date('2026-03-01T10:00:02.000Z'),
      transportName: 'x',
      stats,
    });
    return {
      store: realStore,
      logs,
      stats,
      /** when a batch arrives */
      whenBatchArrives: (...messages: InboundMessage[]) => handle(messages),
      /** when the source fetched a batch ahead and lets the pipeline prepare it */
      whenPrepared: (...messages: InboundMessage[]) => {
        handle.prepare(messages);
      },
    };
  }

  it('applies every event of a batch in order', async () => {
    const { store, stats, whenBatchArrives } = await givenAPipeline();

    await whenBatchArrives(aMessage(upsertText('1', 1, 'OPEN')), aMessage(upsertText('1', 2, 'SHIPPED')), aMessage(upsertText('2', 1, 'OPEN')));

    expect(await store.get('orders', '1')).toMatchObject({ version: 2n, data: { status: 'SHIPPED' } });
    expect(await store.get('orders', '2')).toMatchObject({ version: 1n });
    expect(stats.snapshot()).toMatchObject({ applied: 3, skipped: 0, deadLettered: 0, lastAppliedAt: '2026-03-01T10:00:02.000Z' });
  });

  it('decodes a batch prepared ahead only once, and handles it exactly as one that was not', async () => {
    const decoded: string[] = [];
    const counting: MessageDecoder = (message) => {
      decoded.push(message.id);
      return fakeDecoder(message);
    };
    const { store, stats, whenBatchArrives, whenPrepared } = await givenAPipeline({ decode: counting });
    const good = aMessage(upsertText('1', 1, 'OPEN'));
    const garbage = aMessage('#orders {"id": not json');
    const later = aMessage(upsertText('1', 2, 'SHIPPED'));

    whenPrepared(good, garbage);
    expect(decoded).toEqual([good.id, garbage.id]);
    const result = await whenBatchArrives(good, garbage, later);

    expect(decoded).toEqual([good.id, garbage.id, later.id]);
    expect(result?.rejected.map((r) => r.message.id)).toEqual([garbage.id]);
    expect(await store.get('orders', '1')).toMatchObject({ version: 2n, data: { status: 'SHIPPED' } });
    expect(stats.snapshot()).toMatchObject({ applied: 2, deadLettered: 1 });
    // Delivered again (a redelivery), a prepared message is decoded afresh.
    await whenBatchArrives(good);
    expect(decoded).toEqual([good.id, garbage.id, later.id, good.id]);
  });

  it('dead-letters garbage with its text, author and reason, and still applies the rest of the batch', async () => {
    const { store, stats, logs, whenBatchArrives } = await givenAPipeline();
    const garbage = aMessage('#orders {"id": oops', { id: '42', username: 'mallory' });

    const result = await whenBatchArrives(aMessage(upsertText('1', 1, 'OPEN')), garbage, aMessage(upsertText('2', 1, 'OPEN')));

    // Returned too, so a transport with a dead-letter queue (Kafka, Redis Streams) gets it before its commit.
    expect(result).toEqual({ rejected: [{ message: garbage, reason: 'not JSON' }] });
    expect(await store.listDeadLetters({ limit: 10 })).toEqual([
      {
        messageId: garbage.id,
        transport: 'x',
        text: '#orders {"id": oops',
        reason: 'not JSON',
        author: { id: '42', username: 'mallory' },
        receivedAt: '2026-03-01T10:00:01.000Z',
      },
    ]);
    expect((await store.find('orders', {}, { limit: 10 })).map((d) => d.key)).toEqual(['1', '2']);
    expect(stats.snapshot()).toMatchObject({ applied: 2, deadLettered: 1 });
    const warning = logs.find((line) => line['msg'] === 'message rejected; dead-lettered');
    expect(warning).toMatchObject({ level: 40, component: 'consumerPipeline', reason: 'not JSON', post: { id: garbage.id, text: garbage.text } });
    expect(warning).not.toHaveProperty('text');
  });

  it('dead-letters a message the trust policy rejects without applying it', async () => {
    const { store, whenBatchArrives } = await givenAPipeline({ trust: authorsTrust(['alice']) });

    await whenBatchArrives(aMessage(upsertText('1', 1, 'FROM-ALICE'), { id: 'alice' }), aMessage(upsertText('2', 1, 'FROM-EVE'), { id: 'eve' }));

    expect(await store.get('orders', '1')).toBeDefined();
    expect(await store.get('orders', '2')).toBeUndefined();
    const [letter] = await store.listDeadLetters({ limit: 10 });
    expect(letter?.reason).toBe('untrusted author eve');
    expect(letter?.author).toEqual({ id: 'eve' });
  });

  it('throws when the store fails, and dead-letters nothing, so the source redelivers', async () => {
    const { store, stats, whenBatchArrives } = await givenAPipeline({
      storeWrapper: (s) => ({ ...s, applyBatch: () => Promise.reject(new StoreUnavailableError('read model: connection refused')) }),
    });

    await expect(whenBatchArrives(aMessage(upsertText('1', 1, 'OPEN')))).rejects.toBeInstanceOf(StoreUnavailableError);

    expect(await store.listDeadLetters({ limit: 10 })).toEqual([]);
    expect(await store.get('orders', '1')).toBeUndefined();
    expect(stats.snapshot()).toMatchObject({ applied: 0, skipped: 0, deadLettered: 0, batches: 0 });
  });

  it('throws when a dead letter cannot be stored, so a rejected message is not lost', async () => {
    const { whenBatchArrives } = await givenAPipeline({ storeWrapper: unavailable });

    await expect(whenBatchArrives(aMessage('garbage'))).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('reports a redelivered batch as duplicates and a late older version as stale', async () => {
    const { store, stats, logs, whenBatchArrives } = await givenAPipeline();
    const first = aMessage(upsertText('1', 5, 'SHIPPED'));
    await whenBatchArrives(first);

    await whenBatchArrives(first, aMessage(upsertText('1', 4, 'OPEN')));

    expect(await store.get('orders', '1')).toMatchObject({ version: 5n, data: { status: 'SHIPPED' } });
    expect(stats.snapshot()).toMatchObject({ applied: 1, skipped: 2 });
    const outcomes = logs.filter((line) => line['msg'] === 'event handled').map((line) => line['outcome']);
    expect(outcomes).toEqual([
      { status: 'applied' },
      { status: 'skipped', reason: 'duplicate' },
      { status: 'skipped', reason: 'stale' },
    ]);
  });

  it('an upsert older than a delete in the same batch does not resurrect the document', async () => {
    const { store, whenBatchArrives } = await givenAPipeline();

    await whenBatchArrives(
      aMessage(upsertText('1', 1, 'OPEN')),
      aMessage(JSON.stringify({ key: '1', version: 3, delete: true })),
      aMessage(upsertText('1', 2, 'LATE')),
    );

    expect(await store.get('orders', '1')).toBeUndefined();
    expect(await store.get('orders', '1', { includeDeleted: true })).toMatchObject({ version: 3n, deleted: true });
  });

  it('dead-letters only the messages the store refuses, with its reason, and applies the rest in order', async () => {
    const { store, stats, whenBatchArrives } = await givenAPipeline();
    const refusedNul = aMessage(upsertText('1', 2, 'BAD\u0000'));
    const refusedToo = aMessage(upsertText('3', 1, '\u0000'));

    const result = await whenBatchArrives(
      aMessage(upsertText('1', 1, 'OPEN')),
      refusedNul,
      aMessage(upsertText('2', 1, 'OPEN')),
      aMessage(upsertText('1', 3, 'SHIPPED')),
      refusedToo,
    );

    const storeReason = /^read model refused to apply a batch: unsupported Unicode escape sequence \(code 22P05\)$/;
    expect(result?.rejected.map((r) => r.message)).toEqual([refusedNul, refusedToo]);
    for (const rejection of result?.rejected ?? []) expect(rejection.reason).toMatch(storeReason);
    expect(await store.get('orders', '1')).toMatchObject({ version: 3n, data: { status: 'SHIPPED' } });
    expect(await store.get('orders', '2')).toMatchObject({ version: 1n });
    expect(await store.get('orders', '3')).toBeUndefined();
    const letters = await store.listDeadLetters({ limit: 10 });
    expect(letters.map((l) => l.messageId).sort()).toEqual([refusedNul.id, refusedToo.id].sort());
    for (const letter of letters) expect(letter.reason).toMatch(storeReason);
    expect(stats.snapshot()).toMatchObject({ applied: 3, skipped: 0, deadLettered: 2 });
  });

  it('dead-letters a message whole when the store refuses one of its events: none of them is applied', async () => {
    const { store, whenBatchArrives } = await givenAPipeline();
    const post = aMessage(JSON.stringify([{ key: '4', version: 1, status: 'OPEN' }, { key: '5', version: 1, status: '\u0000' }]));

    const result = await whenBatchArrives(post, aMessage(upsertText('6', 1, 'OPEN')));

    expect(result?.rejected.map((r) => r.message)).toEqual([post]);
    expect(await store.get('orders', '4')).toBeUndefined();
    expect(await store.get('orders', '5')).toBeUndefined();
    expect(await store.get('orders', '6')).toBeDefined();
  });

  it('throws, dead-lettering nothing, when the store becomes unavailable while the batch is split', async () => {
    let calls = 0;
    const { store, whenBatchArrives } = await givenAPipeline({
      storeWrapper: (s) => ({
        ...s,
        applyBatch: () => {
          calls += 1;
          return calls === 1 ? Promise.reject(new StoreRefusedError('read model refused to apply a batch: x')) : Promise.reject(new StoreUnavailableError('read model: gone'));
        },
      }),
    });

    await expect(whenBatchArrives(aMessage(upsertText('1', 1, 'OPEN')), aMessage(upsertText('2', 1, 'OPEN')))).rejects.toBeInstanceOf(StoreUnavailableError);

    expect(await store.listDeadLetters({ limit: 10 })).toEqual([]);
  });

  it('an empty batch touches nothing', async () => {
    const { stats, whenBatchArrives } = await givenAPipeline({ storeWrapper: unavailable });

    await whenBatchArrives();

    expect(stats.snapshot().batches).toBe(0);
  });

  it('dead-letters a version more than an hour past its clock, which would hold the key, and applies one within the hour', async () => {
    const { store, whenBatchArrives } = await givenAPipeline();
    const now = Date.parse('2026-03-01T10:00:02.000Z');
    const farAhead = aMessage(upsertText('f', 9_000_000_000_000_000_000, 'FROZEN'));
    const justPast = aMessage(upsertText('f', Number(versionAt(now + 3_600_000 + 1)), 'TOO SOON'));
    const withinTheHour = aMessage(upsertText('g', Number(versionAt(now + 3_000_000)), 'SKEWED CLOCK'));

    const result = await whenBatchArrives(farAhead, justPast, withinTheHour);

    const reasons = new Map((result ?? { rejected: [] }).rejected.map((r) => [r.message.id, r.reason]));
    expect(reasons.get(farAhead.id)).toMatch(/^version 9000000000000000000 of orders\/f stands for 2078-\S+, more than 3600000 ms past this consumer's clock \(VERSION_MAX_AHEAD_MS\)/);
    expect(reasons.get(justPast.id)).toMatch(/stands for 2026-03-01T11:00:02\.001Z, more than 3600000 ms past/);
    expect(reasons.has(withinTheHour.id)).toBe(false);
    expect(await store.get('orders', 'f')).toBeUndefined();
    expect(await store.get('orders', 'g')).toMatchObject({ data: { status: 'SKEWED CLOCK' } });
  });
});

