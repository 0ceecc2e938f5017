import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../common/wait.fixture.js';
import { aChangeEvent, compareBigints } from '../../events/change-event.fixture.js';
import type { ChangeEvent } from '../../events/envelope.js';
import { versionTimeMs } from '../../events/version-clock.js';
import type { OutboxReader, OutboxRetention, OutboxRow, OutboxWriter } from './outbox.js';

/** A `dvx_orders` row as a test writes it; columns left out are NULL. */
interface OrderRow {
  readonly id: string;
  readonly status?: string | null;
  readonly customer_id?: string | null;
  readonly customer_name?: string | null;
  readonly shipping_destination?: string | null;
}

/** One statement against `dvx_orders`. An update may change the key (`set.id`). */
export type OrderChange =
  | { readonly op: 'insert'; readonly row: OrderRow }
  | { readonly op: 'update'; readonly id: string; readonly set: Partial<OrderRow> }
  | { readonly op: 'delete'; readonly id: string };

/**
 * The statement for one order change, with its parameters in order. `placeholder(n)` writes the n-th
 * parameter (from 1) as the database wants it: `$1` for PostgreSQL, `:1` for Oracle.
 */
export function orderChangeStatement(change: OrderChange, placeholder: (n: number) => string): { text: string; params: (string | null)[] } {
  const entries = (row: Partial<OrderRow>) => Object.entries(row).map(([column, value]) => [column, value ?? null] as const);
  switch (change.op) {
    case 'insert': {
      const values = entries(change.row);
      return {
        text: `INSERT INTO dvx_orders (${values.map(([c]) => c).join(', ')}) VALUES (${values.map((_v, i) => placeholder(i + 1)).join(', ')})`,
        params: values.map(([, v]) => v),
      };
    }
    case 'update': {
      const values = entries(change.set);
      return {
        text: `UPDATE dvx_orders SET ${values.map(([c], i) => `${c} = ${placeholder(i + 1)}`).join(', ')} WHERE id = ${placeholder(values.length + 1)}`,
        params: [...values.map(([, v]) => v), change.id],
      };
    }
    case 'delete':
      return { text: `DELETE FROM dvx_orders WHERE id = ${placeholder(1)}`, params: [change.id] };
  }
}

type ContractOutbox = OutboxReader & OutboxWriter & OutboxRetention;

/**
 * One outbox adapter on a fresh, empty schema of its own: the outbox table, the version sequence and
 * `dvx_orders` with its real capture trigger, as the adapter's sql/ scripts create them.
 */
export interface OutboxUnderTest {
  readonly outbox: ContractOutbox;
  /**
   * Runs the changes in one transaction on `dvx_orders`, so the capture trigger fires for each. It
   * commits, or with `rollback` rolls the transaction back after the last change.
   */
  writeOrders(changes: readonly OrderChange[], options?: { readonly rollback?: boolean }): Promise<void>;
  /** Sets `published_at` of these rows, as if the relay had marked them at `at`. */
  setPublishedAt(ids: readonly string[], at: Date): Promise<void>;
  /** The id of every row in the outbox, whatever its state. */
  allIds(): Promise<string[]>;
  /** Failed rows: id -> failed_reason. */
  failedReasons(): Promise<Record<string, string>>;
  /** Closes the outbox and throws the schema away. */
  dispose(): Promise<void>;
}

/**
 * Reads until at least `count` rows are readable. A PostgreSQL outbox holds committed rows back while
 * any older transaction on the server runs (they are delayed, never skipped), so tests wait for rows
 * instead of reading once.
 */
export function readUntil(outbox: OutboxReader, count: number, limit = 100): Promise<OutboxRow[]> {
  return waitUntil(
    `${count} outbox rows are readable`,
    async () => {
      const rows = await outbox.readBatch(limit);
      return rows.length >= count ? rows : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
}

export function orderEvent(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  return aChangeEvent({ source: 'test', type: 'orders.upserted', version: 1n, data: { id: '8172', status: 'SHIPPED' }, createdAt: '2024-05-01T10:00:00.000Z', ...overrides });
}

const compactId = /^[A-Za-z0-9_-]{22}$/;
const sorted = (values: readonly string[]) => [...values].sort();

/**
 * The behaviour every outbox shares, whatever the database (PGlite, PostgreSQL, Oracle): capture
 * through the real trigger, commit-only visibility, idempotent appends, marks, and retention.
 * `open` is called before each test.
 */
export function describeOutboxContract(name: string, open: () => Promise<OutboxUnderTest>): void {
  describe(`outbox contract: ${name}`, () => {
    let subject: OutboxUnderTest;
    let outbox: ContractOutbox;

    beforeEach(async () => {
      subject = await open();
      outbox = subject.outbox;
    });

    afterEach(async () => {
      await subject.dispose();
    });

    it('takes versions on the clock post ids use, and stamps each change with its version\'s time (issue 22)', async () => {
      const before = Date.now();
      await subject.writeOrders([{ op: 'insert', row: { id: 'clock', status: 'NEW' } }]);
      await subject.writeOrders([{ op: 'update', id: 'clock', set: { status: 'PAID' } }]);
      const after = Date.now();

      const events = (await readUntil(outbox, 2)).map((r) => r.event);

      for (const event of events) {
        // A second either way for a database server whose clock is not this machine's.
        expect(versionTimeMs(event.version)).toBeGreaterThanOrEqual(before - 1_000);
        expect(versionTimeMs(event.version)).toBeLessThanOrEqual(after + 1_000);
        expect(Date.parse(event.createdAt)).toBe(versionTimeMs(event.version));
      }
    });

    it('captures an insert, an update and a delete as full row images with increasing versions', async () => {
      await subject.writeOrders([
        { op: 'insert', row: { id: 'o1', status: 'NEW', customer_id: 'c9', customer_name: 'Smith & Sons <UK>', shipping_destination: 'Utrecht' } },
      ]);
      await subject.writeOrders([{ op: 'update', id: 'o1', set: { status: 'SHIPPED' } }]);
      await subject.writeOrders([{ op: 'delete', id: 'o1' }]);

      const rows = await readUntil(outbox, 3);

      expect(rows.map((r) => [r.event.op, r.event.type, r.event.key, r.event.data?.status ?? null])).toEqual([
        ['upsert', 'orders.upserted', 'o1', 'NEW'],
        ['upsert', 'orders.upserted', 'o1', 'SHIPPED'],
        ['delete', 'orders.deleted', 'o1', null],
      ]);
      const [first, second, third] = rows.map((r) => r.event);
      expect(first?.data).toMatchObject({ id: 'o1', status: 'NEW', customer_id: 'c9', customer_name: 'Smith & Sons <UK>', shipping_destination: 'Utrecht' });
      const stamp = first?.data?.last_updated_timestamp;
      expect(typeof stamp).toBe('string');
      expect(Date.parse(typeof stamp === 'string' ? stamp : '')).not.toBeNaN();
      expect(third?.data).toBeNull();
      expect(first && second && first.version < second.version).toBe(true);
      expect(second && third && second.version < third.version).toBe(true);
      for (const { event } of rows) {
        expect(event.collection).toBe('orders');
        expect(event.source).toBe('dvx_orders');
        expect(event.id).toMatch(compactId);
        expect(Number.isNaN(Date.parse(event.createdAt))).toBe(false);
      }
    });

    it('writes NULL columns into the image as null', async () => {
      await subject.writeOrders([{ op: 'insert', row: { id: 'o2', status: 'NEW' } }]);

      const [row] = await readUntil(outbox, 1);

      expect(row?.event.data).toMatchObject({ id: 'o2', status: 'NEW', customer_id: null, customer_name: null, shipping_destination: null });
    });

    it('captures every change of a committed transaction, in order', async () => {
      await subject.writeOrders([
        { op: 'insert', row: { id: 'a', status: 'NEW' } },
        { op: 'insert', row: { id: 'b', status: 'NEW' } },
        { op: 'update', id: 'a', set: { status: 'PAID' } },
      ]);

      const rows = await readUntil(outbox, 3);

      expect(rows.map((r) => [r.event.key, r.event.data?.status])).toEqual([
        ['a', 'NEW'],
        ['b', 'NEW'],
        ['a', 'PAID'],
      ]);
    });

    it('reads a transaction of more than ten changes in the order they were made', async () => {
      // Ten and more: an order by seq as text would put "10" before "2".
      const changes: OrderChange[] = Array.from({ length: 25 }, (_v, i) => ({ op: 'insert', row: { id: `k${String(i)}`, status: 'NEW' } }));
      await subject.writeOrders(changes);

      const rows = await readUntil(outbox, 25);

      expect(rows.map((r) => r.event.key)).toEqual(changes.map((_c, i) => `k${String(i)}`));
      const versions = rows.map((r) => r.event.version);
      expect(versions).toEqual([...versions].sort(compareBigints));
    });

    it('leaves nothing in the outbox for a rolled-back transaction', async () => {
      await subject.writeOrders(
        [
          { op: 'insert', row: { id: 'rolled-back', status: 'NEW' } },
          { op: 'update', id: 'rolled-back', set: { status: 'SHIPPED' } },
        ],
        { rollback: true },
      );

      expect(await subject.allIds()).toEqual([]);
      expect(await outbox.readBatch(10)).toEqual([]);
    });

    it('gives a re-inserted row a higher version than its delete', async () => {
      await subject.writeOrders([{ op: 'insert', row: { id: 'o3', status: 'NEW' } }]);
      await subject.writeOrders([{ op: 'delete', id: 'o3' }]);
      await subject.writeOrders([{ op: 'insert', row: { id: 'o3', status: 'AGAIN' } }]);

      const versions = (await readUntil(outbox, 3)).map((r) => r.event.version);

      expect(versions).toHaveLength(3);
      expect([...versions].sort(compareBigints)).toEqual(versions);
      expect(new Set(versions).size).toBe(3);
    });

    it('captures a key change as a delete of the old key and an upsert of the new one', async () => {
      await subject.writeOrders([{ op: 'insert', row: { id: 'old', status: 'NEW' } }]);
      await outbox.markPublished(await readUntil(outbox, 1));

      await subject.writeOrders([{ op: 'update', id: 'old', set: { id: 'new' } }]);

      const rows = await readUntil(outbox, 2);
      expect(rows.map((r) => [r.event.op, r.event.key])).toEqual([
        ['delete', 'old'],
        ['upsert', 'new'],
      ]);
    });

    it('returns appended events unchanged, including a version above 2^53', async () => {
      const event = orderEvent({ id: 'evt-1', version: 1_801_234_567_890_123_456n, correlationId: 'corr-1' });
      const deletion = orderEvent({ id: 'evt-2', op: 'delete', type: 'orders.deleted', data: null, version: 1_801_234_567_890_123_457n });

      await outbox.append([event, deletion]);

      const rows = await readUntil(outbox, 2);
      expect(rows.map((r) => r.event)).toEqual([event, deletion]);
      expect(rows[0] && rows[1] && rows[0].seq < rows[1].seq).toBe(true);
    });

    it('ignores an event id that is already in the outbox, in a later call or the same one', async () => {
      await outbox.append([orderEvent({ id: 'same' })]);
      await outbox.append([orderEvent({ id: 'same', data: { id: '8172', status: 'CHANGED' } }), orderEvent({ id: 'other' }), orderEvent({ id: 'other', version: 9n })]);

      const rows = await readUntil(outbox, 2);
      expect(rows.map((r) => [r.event.id, r.event.data?.status, r.event.version])).toEqual([
        ['same', 'SHIPPED', 1n],
        ['other', 'SHIPPED', 1n],
      ]);
    });

    it('writes nothing of a batch when one of its events cannot be stored', async () => {
      const tooLarge = orderEvent({ id: 'evt-bad', version: 2n ** 64n });

      await expect(outbox.append([orderEvent({ id: 'evt-good' }), tooLarge])).rejects.toThrow();

      expect(await subject.allIds()).toEqual([]);
    });

    it('hides published rows from the next read', async () => {
      await outbox.append([orderEvent({ id: 'a' }), orderEvent({ id: 'b' }), orderEvent({ id: 'c' })]);
      const batch = await readUntil(outbox, 2, 2);
      expect(batch.map((r) => r.event.id)).toEqual(['a', 'b']);

      await outbox.markPublished(batch);

      expect((await readUntil(outbox, 1)).map((r) => r.event.id)).toEqual(['c']);
    });

    it('hides a failed row and keeps its reason for an operator', async () => {
      await outbox.append([orderEvent({ id: 'a' }), orderEvent({ id: 'b' })]);
      const [first] = await readUntil(outbox, 1, 1);
      if (first === undefined) throw new Error('expected a row');

      await outbox.markFailed([{ row: first, reason: 'too large for a post' }]);

      expect((await readUntil(outbox, 1)).map((r) => r.event.id)).toEqual(['b']);
      expect(await subject.failedReasons()).toEqual({ a: 'too large for a post' });
    });

    it('publishes again, in their order, the rows published since a time a transport lost them from, and never a failed row (issue 24)', async () => {
      const ids = ['early', 'lost-1', 'lost-2', 'failed', 'pending'];
      await outbox.append(ids.map((id) => orderEvent({ id })));
      const rows = await readUntil(outbox, ids.length);
      const byId = (id: string) => rows.filter((r) => r.event.id === id);
      await outbox.markPublished(['early', 'lost-1', 'lost-2'].flatMap(byId));
      await outbox.markFailed(byId('failed').map((row) => ({ row, reason: 'too large for a post' })));
      await subject.setPublishedAt(['early'], new Date('2024-05-01T09:00:00.000Z'));
      await subject.setPublishedAt(['lost-1', 'lost-2', 'failed'], new Date('2024-05-01T10:00:00.000Z'));

      expect(await outbox.republishSince(new Date('2024-05-01T10:00:00.000Z'))).toBe(2);
      expect((await readUntil(outbox, 3)).map((r) => r.event.id)).toEqual(['lost-1', 'lost-2', 'pending']);
      // Without a time, every published row goes out again.
      expect(await outbox.republishSince(undefined)).toBe(1);
      expect((await readUntil(outbox, 4)).map((r) => r.event.id)).toEqual(['early', 'lost-1', 'lost-2', 'pending']);
      expect(await subject.failedReasons()).toEqual({ failed: 'too large for a post' });
    });

    it('deletes only published rows older than the cutoff, at most `limit` a call', async () => {
      const cutoff = new Date('2024-05-01T10:00:00.000Z');
      const ids = ['old-1', 'old-2', 'old-3', 'at-cutoff', 'recent', 'failed', 'pending'];
      await outbox.append(ids.map((id) => orderEvent({ id })));
      const rows = await readUntil(outbox, ids.length);
      const byId = (id: string) => rows.filter((r) => r.event.id === id);
      await outbox.markPublished(['old-1', 'old-2', 'old-3', 'at-cutoff', 'recent'].flatMap(byId));
      await outbox.markFailed(byId('failed').map((row) => ({ row, reason: 'too large for a post' })));
      // The oldest was appended last, so only an order by published_at deletes it in the first call.
      await subject.setPublishedAt(['old-1', 'old-2'], new Date('2024-05-01T09:00:00.000Z'));
      await subject.setPublishedAt(['old-3'], new Date('2024-05-01T08:00:00.000Z'));
      await subject.setPublishedAt(['at-cutoff'], cutoff);
      await subject.setPublishedAt(['recent'], new Date('2024-05-01T11:00:00.000Z'));
      // A failed row that somehow also carries an old published time still waits for an operator.
      await subject.setPublishedAt(['failed'], new Date('2024-05-01T08:00:00.000Z'));

      expect(await outbox.deletePublished(cutoff, 2)).toBe(2);
      expect(await subject.allIds()).not.toContain('old-3');
      expect(await outbox.deletePublished(cutoff, 2)).toBe(1);
      expect(await outbox.deletePublished(cutoff, 2)).toBe(0);

      expect(sorted(await subject.allIds())).toEqual(sorted(['at-cutoff', 'recent', 'failed', 'pending']));
      expect((await outbox.readBatch(10)).map((r) => r.event.id)).toEqual(['pending']);

      // However late the cutoff, the pending and the failed row stay.
      expect(await outbox.deletePublished(new Date('2100-01-01T00:00:00.000Z'), 100)).toBe(2);
      expect(sorted(await subject.allIds())).toEqual(sorted(['failed', 'pending']));
    });
  });
}
