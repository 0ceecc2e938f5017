import { afterEach, beforeEach, expect, it } from 'vitest';
import { StoreRefusedError, TweetbusError } from '../../common/errors.js';
import type { ChangeEvent } from '../../events/envelope.js';
import type { JsonObject } from '../../events/json.js';
import { bucketOf, digestBuilder, type BucketDigest, type KeyVersion } from '../../common/version-digest.js';
import type { ApplyOutcome, DeadLetter, ReadModelStore } from './read-model-store.js';
import { aChangeEvent } from '../../events/change-event.fixture.js';

/** A store under test and how to throw it away (drop its schema, close its client). */
export interface ReadModelStoreFixture {
  readonly store: ReadModelStore;
  dispose(): Promise<void>;
}

export const contractClock = { now: (): Date => new Date('2026-03-01T12:00:00.000Z') };

let sequence = 0;

/** Test-data builder: an upsert of `data` (with `id` = key) in `orders` unless told otherwise. */
export function anUpsert(key: string, version: bigint | number, data: JsonObject = {}, collection = 'orders'): ChangeEvent {
  sequence += 1;
  return aChangeEvent({
    id: `evt-${key}-${version}-${sequence}`,
    source: 'contract-test',
    collection,
    key,
    version: BigInt(version),
    data: { id: key, ...data },
    createdAt: '2026-03-01T11:59:00.000Z',
  });
}

export function aDelete(key: string, version: bigint | number, collection = 'orders'): ChangeEvent {
  sequence += 1;
  return aChangeEvent({
    id: `evt-${key}-${version}-del-${sequence}`,
    source: 'contract-test',
    collection,
    key,
    version: BigInt(version),
    op: 'delete',
    createdAt: '2026-03-01T11:59:00.000Z',
  });
}

export function aDeadLetter(messageId: string, overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    messageId,
    transport: 'x',
    text: `#orders {not json ${messageId}`,
    reason: 'expected a JSON object after the hashtag',
    author: { id: '42', username: 'somebody' },
    receivedAt: '2026-03-01T11:58:00.000Z',
    ...overrides,
  };
}

const applied: ApplyOutcome = { status: 'applied' };
const duplicate: ApplyOutcome = { status: 'skipped', reason: 'duplicate' };
const stale: ApplyOutcome = { status: 'skipped', reason: 'stale' };

/**
 * The ReadModelStore contract (docs/design-notes.md, rules 2 and 3). Call it inside a `describe` with a factory
 * that returns a fresh, empty store for every test; every adapter runs these same cases.
 */
export function readModelStoreContract(createFixture: () => Promise<ReadModelStoreFixture>): void {
  let fixture: ReadModelStoreFixture | undefined;
  let store: ReadModelStore;

  beforeEach(async () => {
    fixture = await createFixture();
    store = fixture.store;
  });

  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });

  it('applies a new document', async () => {
    const event = anUpsert('1001', 5, { status: 'OPEN', total: 12.5 });

    const outcomes = await store.applyBatch([event]);

    expect(outcomes).toEqual([applied]);
    expect(await store.get('orders', '1001')).toEqual({
      collection: 'orders',
      key: '1001',
      version: 5n,
      deleted: false,
      data: { id: '1001', status: 'OPEN', total: 12.5 },
      eventId: event.id,
      source: 'contract-test',
      appliedAt: contractClock.now().toISOString(),
    });
  });

  it('a higher version replaces the document', async () => {
    await store.applyBatch([anUpsert('1001', 5, { status: 'OPEN', note: 'gone later' })]);

    const outcomes = await store.applyBatch([anUpsert('1001', 6, { status: 'SHIPPED' })]);

    expect(outcomes).toEqual([applied]);
    const doc = await store.get('orders', '1001');
    expect(doc?.version).toBe(6n);
    expect(doc?.data).toEqual({ id: '1001', status: 'SHIPPED' });
  });

  it('an equal version is skipped as a duplicate', async () => {
    const first = anUpsert('1001', 5, { status: 'OPEN' });
    await store.applyBatch([first]);

    const outcomes = await store.applyBatch([anUpsert('1001', 5, { status: 'CHANGED' })]);

    expect(outcomes).toEqual([duplicate]);
    const doc = await store.get('orders', '1001');
    expect(doc?.data).toEqual({ id: '1001', status: 'OPEN' });
    expect(doc?.eventId).toBe(first.id);
  });

  it('a late older version leaves the document unchanged (stale)', async () => {
    await store.applyBatch([anUpsert('1001', 7, { status: 'SHIPPED' })]);

    const outcomes = await store.applyBatch([anUpsert('1001', 6, { status: 'OPEN' })]);

    expect(outcomes).toEqual([stale]);
    const doc = await store.get('orders', '1001');
    expect(doc?.version).toBe(7n);
    expect(doc?.data).toEqual({ id: '1001', status: 'SHIPPED' });
  });

  it('a delete leaves a tombstone hidden from get and find but visible with includeDeleted', async () => {
    await store.applyBatch([anUpsert('1001', 5, { status: 'OPEN' })]);

    const outcomes = await store.applyBatch([aDelete('1001', 6)]);

    expect(outcomes).toEqual([applied]);
    expect(await store.get('orders', '1001')).toBeUndefined();
    expect(await store.find('orders', { status: 'OPEN' }, { limit: 10 })).toEqual([]);
    const tombstone = await store.get('orders', '1001', { includeDeleted: true });
    expect(tombstone).toMatchObject({ key: '1001', version: 6n, deleted: true, data: null });
  });

  it('a late older upsert after a delete does not resurrect the document', async () => {
    await store.applyBatch([anUpsert('1001', 5, { status: 'OPEN' }), aDelete('1001', 7)]);

    const outcomes = await store.applyBatch([anUpsert('1001', 6, { status: 'LATE' })]);

    expect(outcomes).toEqual([stale]);
    expect(await store.get('orders', '1001')).toBeUndefined();
    expect(await store.get('orders', '1001', { includeDeleted: true })).toMatchObject({ version: 7n, deleted: true });
  });

  it('a newer upsert after a delete revives the document', async () => {
    await store.applyBatch([anUpsert('1001', 5, { status: 'OPEN' }), aDelete('1001', 6)]);

    const outcomes = await store.applyBatch([anUpsert('1001', 8, { status: 'REOPENED' })]);

    expect(outcomes).toEqual([applied]);
    expect(await store.get('orders', '1001')).toMatchObject({ version: 8n, deleted: false, data: { id: '1001', status: 'REOPENED' } });
  });

  it('a batch with several versions of one key ends at the highest and reports each in order', async () => {
    const outcomes = await store.applyBatch([
      anUpsert('1001', 2, { status: 'A' }),
      anUpsert('2002', 1, { status: 'OTHER' }),
      anUpsert('1001', 4, { status: 'C' }),
      anUpsert('1001', 3, { status: 'B' }),
      anUpsert('1001', 4, { status: 'C-again' }),
    ]);

    expect(outcomes).toEqual([applied, applied, applied, stale, duplicate]);
    expect(await store.get('orders', '1001')).toMatchObject({ version: 4n, data: { id: '1001', status: 'C' } });
    expect(await store.get('orders', '2002')).toMatchObject({ version: 1n });
  });

  it('keeps collections apart: the same key in two collections is two documents', async () => {
    await store.applyBatch([anUpsert('1', 1, { kind: 'order' }, 'orders'), anUpsert('1', 1, { kind: 'customer' }, 'customers')]);

    expect((await store.get('orders', '1'))?.data).toEqual({ id: '1', kind: 'order' });
    expect((await store.get('customers', '1'))?.data).toEqual({ id: '1', kind: 'customer' });
  });

  it('finds by field, ordered by key, at most limit', async () => {
    await store.applyBatch([
      anUpsert('c', 1, { status: 'OPEN' }),
      anUpsert('a', 1, { status: 'OPEN' }),
      anUpsert('d', 1, { status: 'SHIPPED' }),
      anUpsert('b', 1, { status: 'OPEN' }),
      anUpsert('B', 1, { status: 'OPEN' }),
    ]);

    const found = await store.find('orders', { status: 'OPEN' }, { limit: 3 });

    expect(found.map((doc) => doc.key)).toEqual(['B', 'a', 'b']);
  });

  it('find matches values exactly: type, several fields, and alternatives', async () => {
    await store.applyBatch([
      anUpsert('n', 1, { qty: 123, status: 'OPEN' }),
      anUpsert('s', 1, { qty: '123', status: 'OPEN' }),
      anUpsert('arr', 1, { qty: [123], status: 'OPEN' }),
      anUpsert('nul', 1, { qty: null, status: 'OPEN' }),
      anUpsert('missing', 1, { status: 'OPEN' }),
      anUpsert('other', 1, { qty: 123, status: 'SHIPPED' }),
    ]);

    const keys = async (filter: Parameters<ReadModelStore['find']>[1]) =>
      (await store.find('orders', filter, { limit: 50 })).map((doc) => doc.key);

    expect(await keys({ qty: 123, status: 'OPEN' })).toEqual(['n']);
    expect(await keys({ qty: '123' })).toEqual(['s']);
    expect(await keys({ qty: ['123', 123], status: 'OPEN' })).toEqual(['n', 's']);
    expect(await keys({ qty: null })).toEqual(['nul']);
    expect(await keys({})).toEqual(['arr', 'missing', 'n', 'nul', 'other', 's']);
  });

  it('find ignores tombstones', async () => {
    await store.applyBatch([anUpsert('a', 1, { status: 'OPEN' }), anUpsert('b', 1, { status: 'OPEN' }), aDelete('a', 2)]);

    const found = await store.find('orders', { status: 'OPEN' }, { limit: 10 });

    expect(found.map((doc) => doc.key)).toEqual(['b']);
  });

  it('find rejects a field name that could not be a document key', async () => {
    for (const field of ['$where', 'a.b', '__proto__', '']) {
      await expect(store.find('orders', { [field]: 'x' }, { limit: 10 })).rejects.toBeInstanceOf(TweetbusError);
    }
  });

  it('reads of a collection name that is not valid find nothing', async () => {
    expect(await store.get('system.users', '1')).toBeUndefined();
    expect(await store.find('$cmd', {}, { limit: 10 })).toEqual([]);
  });

  it('a key or filter value with a NUL character finds nothing', async () => {
    await store.applyBatch([anUpsert('a', 1, { status: 'OPEN' })]);

    expect(await store.get('orders', 'a\u0000')).toBeUndefined();
    expect(await store.find('orders', { status: 'OPEN\u0000' }, { limit: 10 })).toEqual([]);
    expect((await store.find('orders', { status: ['OPEN\u0000', 'OPEN'] }, { limit: 10 })).map((d) => d.key)).toEqual(['a']);
  });

  it('bigint versions above 2^53 compare correctly', async () => {
    const base = 1_900_000_000_000_000_001n; // a snowflake-sized post id
    await store.applyBatch([anUpsert('1001', base + 1n, { status: 'NEWER' })]);

    // As doubles both would round to the same value; as bigints the second is older.
    const outcomes = await store.applyBatch([anUpsert('1001', base, { status: 'OLDER' }), anUpsert('1001', base + 1n, { status: 'SAME' })]);

    expect(outcomes).toEqual([stale, duplicate]);
    expect(await store.get('orders', '1001')).toMatchObject({ version: base + 1n, data: { status: 'NEWER' } });
    expect(await store.applyBatch([anUpsert('1001', 2n ** 63n - 1n, { status: 'MAX' })])).toEqual([applied]);
    expect((await store.get('orders', '1001'))?.version).toBe(2n ** 63n - 1n);
  });

  it('loads, saves and overwrites checkpoints', async () => {
    expect(await store.load('consumer')).toBeUndefined();

    await store.save('consumer', '1900000000000000001');
    await store.save('other', 'a');
    await store.save('consumer', '1900000000000000002');

    expect(await store.load('consumer')).toBe('1900000000000000002');
    expect(await store.load('other')).toBe('a');
  });

  it('stores a dead letter once per message id and lists the newest first', async () => {
    await store.putDeadLetter(aDeadLetter('m1'));
    await store.putDeadLetter(aDeadLetter('m2', { author: undefined, transport: 'in-memory' }));
    await store.putDeadLetter(aDeadLetter('m1', { reason: 'second delivery' }));

    const letters = await store.listDeadLetters({ limit: 10 });

    expect(letters).toEqual([aDeadLetter('m2', { author: undefined, transport: 'in-memory' }), aDeadLetter('m1')]);
    expect(await store.listDeadLetters({ limit: 1 })).toHaveLength(1);
  });

  it('keys and values with unicode, quotes and SQL or operator injection survive', async () => {
    const nasty = `'; DROP TABLE documents; -- "quoted" \\ back\\slash ü 🚀 日本 $gt {"$ne":1}`;
    const key = `k'"; DROP TABLE documents; --🚀`;
    await store.applyBatch([anUpsert(key, 1, { note: nasty, [`ключ "quoted"`]: 'значение' })]);

    const doc = await store.get('orders', key);
    expect(doc?.data).toEqual({ id: key, note: nasty, [`ключ "quoted"`]: 'значение' });
    expect((await store.find('orders', { note: nasty }, { limit: 5 })).map((d) => d.key)).toEqual([key]);
    expect((await store.find('orders', { [`ключ "quoted"`]: 'значение' }, { limit: 5 })).map((d) => d.key)).toEqual([key]);
    expect(await store.find('orders', { note: `' OR '1'='1` }, { limit: 5 })).toEqual([]);

    const letter = aDeadLetter(`m'; DROP TABLE dead_letters; --`, { text: `${nasty} \u0000 nul`, reason: nasty });
    await store.putDeadLetter(letter);
    const [stored] = await store.listDeadLetters({ limit: 1 });
    expect(stored?.messageId).toBe(letter.messageId);
    expect(stored?.reason).toBe(nasty);
    expect(stored?.text.startsWith(nasty)).toBe(true);
  });

  it('refuses an event it cannot hold with StoreRefusedError, and applies the next batch', async () => {
    // The schema never lets this through; the store is the last line: a NUL in a document key is
    // refused by PostgreSQL's jsonb and by BSON alike.
    const refused = anUpsert('1001', 5, { 'bad\u0000key': 1 });

    const failure = await store.applyBatch([refused]).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(StoreRefusedError);
    expect(failure instanceof Error ? failure.message : '').toMatch(/^read model refused to apply a batch: /);
    expect(await store.get('orders', '1001')).toBeUndefined();
    expect(await store.applyBatch([anUpsert('1002', 1, { status: 'OPEN' })])).toEqual([applied]);
    expect((await store.get('orders', '1002'))?.data).toEqual({ id: '1002', status: 'OPEN' });
  });

  it('gives back text exactly as it was given, a leading byte-order mark included', async () => {
    const bom = '\uFEFF';
    const event = { ...anUpsert(`${bom}k`, 1, { status: `${bom}OPEN` }), id: `${bom}evt`, source: `${bom}src` };

    expect(await store.applyBatch([event])).toEqual([applied]);
    const stored = await store.get('orders', `${bom}k`);
    await store.putDeadLetter(aDeadLetter(`${bom}m`, { text: `${bom}#orders`, reason: `${bom}why`, author: { id: `${bom}1`, username: `${bom}u` } }));
    const [letter] = await store.listDeadLetters({ limit: 1 });

    expect(stored).toMatchObject({ key: `${bom}k`, eventId: `${bom}evt`, source: `${bom}src`, data: { id: `${bom}k`, status: `${bom}OPEN` } });
    expect((await store.find('orders', {}, { limit: 10 })).map((d) => d.key)).toContain(`${bom}k`);
    expect(letter).toMatchObject({ messageId: `${bom}m`, text: `${bom}#orders`, reason: `${bom}why`, author: { id: `${bom}1`, username: `${bom}u` } });
  });

  it('stores a dead letter whose text has a NUL and lone surrogates, each as its escape, and keeps a surrogate pair', async () => {
    await store.putDeadLetter(aDeadLetter('m-\uD800', { text: '#orders {"id":"\uD83D","_s":"\u0000","e":"\uD83D\uDE00 x\uDC00"}', reason: 'a key contains a lone UTF-16 surrogate' }));

    const [stored] = await store.listDeadLetters({ limit: 1 });

    expect(stored?.messageId).toBe('m-\\uD800');
    expect(stored?.text).toBe('#orders {"id":"\\uD83D","_s":"\\u0000","e":"😀 x\\uDC00"}');
  });

  it('inventories the live documents of a collection as (key, version), digested as common/version-digest.ts does', async () => {
    const keys = ['a', 'b', 'ü', '"; DROP TABLE x; --', '$where', '8172', 'k\'q', '日本'];
    await store.applyBatch(keys.map((key, i) => anUpsert(key, 10n + BigInt(i) + (1n << 60n))));
    await store.applyBatch([aDelete('b', 1n << 61n), anUpsert('other', 3, {}, 'customers')]);
    const live = keys.filter((key) => key !== 'b').map((key) => ({ key, version: 10n + BigInt(keys.indexOf(key)) + (1n << 60n), source: 'contract-test' }));
    const inventory = store.inventory('orders');
    const byKey = (rows: readonly KeyVersion[]) => [...rows].sort((x, y) => (x.key < y.key ? -1 : 1));

    expect(await inventory.count()).toBe(live.length);
    for (const bits of [0, 1, 3]) {
      const expected = digestBuilder(bits);
      for (const row of live) expected.add(row);
      const sorted = (digests: readonly BucketDigest[]) => [...digests].sort((x, y) => x.bucket - y.bucket);
      expect(sorted(await inventory.digests(bits))).toEqual(sorted(expected.digests()));
    }
    const wanted = live.filter((row) => row.key === 'ü' || row.key === '8172').map((row) => bucketOf(row, 3));
    expect(byKey(await inventory.inBuckets(3, wanted))).toEqual(byKey(live.filter((row) => wanted.includes(bucketOf(row, 3)))));
    expect(byKey(await inventory.versionsOf(['a', 'b', 'nothing', '日本']))).toEqual(byKey(live.filter((row) => row.key === 'a' || row.key === '日本')));
    expect(await store.inventory('nothing').count()).toBe(0);
    expect(await store.inventory('nothing').digests(4)).toEqual([]);
  });

  it('check resolves while the store is reachable', async () => {
    await expect(store.check()).resolves.toBeUndefined();
  });

  it('closing twice is harmless', async () => {
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
}
