import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../../common/sql.js';
import type { ChangeEvent } from '../../../events/envelope.js';
import type { OutboxReader, OutboxRow } from '../outbox.js';
import { createPostgresOutbox, type PostgresOutbox } from './postgres-outbox.js';
import { applyDemoOrdersSchema } from './schema.js';
import { aChangeEvent } from '../../../events/change-event.fixture.js';

/** A database with the outbox and demo orders schema applied, and how to throw it away. */
export interface OutboxTestDatabase {
  readonly db: SqlDatabase;
  dispose(): Promise<void>;
}

export function orderEvent(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  return aChangeEvent({ source: 'test', type: 'orders.upserted', version: 1n, data: { id: '8172', status: 'SHIPPED' }, createdAt: '2024-05-01T10:00:00.000Z', ...overrides });
}

/**
 * Reads until at least `count` rows are readable. On a shared server, other sessions' open
 * transactions hold the snapshot's xmin back, so committed rows can become readable a little later
 * (never earlier, and never skipped): tests wait for them instead of reading once.
 */
export async function readUntil(outbox: OutboxReader, count: number, limit = 100): Promise<OutboxRow[]> {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const rows = await outbox.readBatch(limit);
    if (rows.length >= count) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`fewer than ${count} outbox rows became readable`);
}

async function countRows(db: SqlDatabase): Promise<unknown> {
  const result = await db.query('SELECT count(*)::int AS n FROM tweetbus_outbox');
  return result.rows[0]?.n;
}

const compactId = /^[A-Za-z0-9_-]{22}$/;

/**
 * The behaviour every SQL outbox (PGlite, PostgreSQL) shares. `open` returns a database with an
 * empty schema of its own; the suite applies the schema itself.
 */
export function describePostgresOutboxContract(name: string, open: () => Promise<OutboxTestDatabase>): void {
  describe(`postgres outbox contract: ${name}`, () => {
    let database: OutboxTestDatabase;
    let db: SqlDatabase;
    let outbox: PostgresOutbox;

    beforeEach(async () => {
      database = await open();
      db = database.db;
      await applyDemoOrdersSchema(db);
      outbox = createPostgresOutbox({ db });
    });

    afterEach(async () => {
      await outbox.close();
      await database.dispose();
    });

    it('applies the schema a second time without error', async () => {
      await applyDemoOrdersSchema(db);
      await expect(outbox.check()).resolves.toBeUndefined();
    });

    it('captures an insert, an update and a delete as full row images with increasing versions', async () => {
      await db.query(`INSERT INTO dvx_orders (id, status, customer_id, customer_name, shipping_destination) VALUES ('o1', 'NEW', 'c9', 'Smith & Sons <UK>', 'Utrecht')`);
      await db.query(`UPDATE dvx_orders SET status = 'SHIPPED' WHERE id = 'o1'`);
      await db.query(`DELETE FROM dvx_orders WHERE id = 'o1'`);

      const rows = await readUntil(outbox, 3);

      expect(rows.map((r) => [r.event.op, r.event.type, r.event.key, r.event.data?.status ?? null])).toEqual([
        ['upsert', 'orders.upserted', 'o1', 'NEW'],
        ['upsert', 'orders.upserted', 'o1', 'SHIPPED'],
        ['delete', 'orders.deleted', 'o1', null],
      ]);
      const [first, second, third] = rows.map((r) => r.event);
      expect(first?.data).toMatchObject({
        id: 'o1',
        status: 'NEW',
        customer_id: 'c9',
        customer_name: 'Smith & Sons <UK>',
        shipping_destination: 'Utrecht',
      });
      expect(typeof first?.data?.last_updated_timestamp).toBe('string');
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

    it('gives a re-inserted row a higher version than its delete', async () => {
      await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('o2', 'NEW')`);
      await db.query(`DELETE FROM dvx_orders WHERE id = 'o2'`);
      await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('o2', 'AGAIN')`);

      const versions = (await readUntil(outbox, 3)).map((r) => r.event.version);

      expect(versions).toHaveLength(3);
      expect([...versions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(versions);
      expect(new Set(versions).size).toBe(3);
    });

    it('captures a key change as a delete of the old key and an upsert of the new one', async () => {
      await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('old', 'NEW')`);
      await outbox.markPublished(await readUntil(outbox, 1));

      await db.query(`UPDATE dvx_orders SET id = 'new' WHERE id = 'old'`);

      const rows = await readUntil(outbox, 2);
      expect(rows.map((r) => [r.event.op, r.event.key])).toEqual([
        ['delete', 'old'],
        ['upsert', 'new'],
      ]);
    });

    it('leaves no outbox row for a rolled-back transaction', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`INSERT INTO dvx_orders (id, status) VALUES ('rolled-back', 'NEW')`);
          throw new Error('abort the transaction');
        }),
      ).rejects.toThrow('abort the transaction');

      expect(await countRows(db)).toBe(0);
    });

    it('returns appended events unchanged, including a version above 2^53', async () => {
      const event = orderEvent({ version: 1_801_234_567_890_123_456n, correlationId: 'corr-1' });
      const deletion = orderEvent({ id: 'evt-2', op: 'delete', type: 'orders.deleted', data: null, version: 1_801_234_567_890_123_457n });

      await outbox.append([event, deletion]);

      const rows = await readUntil(outbox, 2);
      expect(rows.map((r) => r.event)).toEqual([event, deletion]);
      expect(rows[0] && rows[1] && rows[0].seq < rows[1].seq).toBe(true);
    });

    it('ignores an event id that is already in the outbox', async () => {
      await outbox.append([orderEvent()]);
      await outbox.append([orderEvent({ data: { id: '8172', status: 'CHANGED' } })]);

      const rows = await readUntil(outbox, 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.event.data).toEqual({ id: '8172', status: 'SHIPPED' });
    });

    it('writes nothing of a batch when one of its events cannot be stored', async () => {
      const tooLong = orderEvent({ id: 'evt-bad', op: 'upsert', version: 2n ** 64n });

      await expect(outbox.append([orderEvent({ id: 'evt-good' }), tooLong])).rejects.toThrow();

      expect(await countRows(db)).toBe(0);
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
      const failed = await db.query('SELECT id, failed_reason, failed_at IS NOT NULL AS has_time FROM tweetbus_outbox WHERE failed_at IS NOT NULL');
      expect(failed.rows).toEqual([{ id: 'a', failed_reason: 'too large for a post', has_time: true }]);
    });

    it('dead-letters a row that is not a valid change event and returns the rows behind it', async () => {
      await db.query(
        `INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source)
         VALUES ('broken', 'not-a-collection!', 'k', 'x', '{"id":"k"}', 1, 'upsert', 'manual')`,
      );
      await outbox.append([orderEvent({ id: 'fine' })]);

      const rows = await readUntil(outbox, 1);

      expect(rows.map((r) => r.event.id)).toEqual(['fine']);
      const failed = await db.query(`SELECT failed_reason FROM tweetbus_outbox WHERE id = 'broken'`);
      expect(String(failed.rows[0]?.failed_reason)).toMatch(/collection/);
      await outbox.markPublished(rows);
      expect(await outbox.readBatch(10)).toEqual([]);
    });

    it('refuses a captured row that has no key', async () => {
      await db.exec(`
        CREATE TABLE keyless (code text, status text);
        CREATE TRIGGER keyless_capture AFTER INSERT ON keyless FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('keyless');
      `);

      await expect(db.query(`INSERT INTO keyless (code, status) VALUES ('x', 'NEW')`)).rejects.toThrow(/key column id/);
      expect(await countRows(db)).toBe(0);
    });

    it('uses the key column the trigger names', async () => {
      await db.exec(`
        CREATE TABLE coded (code text PRIMARY KEY, status text);
        CREATE TRIGGER coded_capture AFTER INSERT ON coded FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('products', 'code');
      `);

      await db.query(`INSERT INTO coded (code, status) VALUES ('p-1', 'NEW')`);

      const [row] = await readUntil(outbox, 1);
      expect(row?.event).toMatchObject({ collection: 'products', key: 'p-1', type: 'products.upserted', source: 'coded' });
    });
  });
}
