import { createLogger } from '../../../common/logger.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../../common/sql.js';
import { describeOutboxContract, orderChangeStatement, orderEvent, readUntil, type OutboxUnderTest } from '../outbox.contract.js';
import { createPostgresOutbox, type PostgresOutbox } from './postgres-outbox.js';
import { applyDemoOrdersSchema } from './schema.js';

/** A database whose search_path points at an empty schema of its own, and how to throw it away. */
export interface OutboxTestDatabase {
  readonly db: SqlDatabase;
  dispose(): Promise<void>;
}

/** Ends a test transaction on purpose; anything else thrown inside it is a real failure. */
class Rollback extends Error {}

/**
 * The shared outbox contract's view of a PostgreSQL or PGlite database: applies the outbox and
 * `dvx_orders` scripts to it, then drives them through SQL. Disposing closes the outbox, then the database.
 */
async function postgresOutboxUnderTest(database: OutboxTestDatabase): Promise<OutboxUnderTest & { readonly outbox: PostgresOutbox }> {
  const { db } = database;
  await applyDemoOrdersSchema(db);
  const outbox = createPostgresOutbox({ db }, { logger: createLogger({ level: 'silent' }) });
  return {
    outbox,
    async writeOrders(changes, options = {}) {
      try {
        await db.transaction(async (tx) => {
          for (const change of changes) {
            const { text, params } = orderChangeStatement(change, (n) => `$${n}`);
            await tx.query(text, params);
          }
          if (options.rollback === true) throw new Rollback('roll the test transaction back');
        });
      } catch (err) {
        if (!(err instanceof Rollback)) throw err;
      }
    },
    async setPublishedAt(ids, at) {
      await db.query('UPDATE tweetbus_outbox SET published_at = $1::timestamptz WHERE id = ANY($2::text[])', [at.toISOString(), [...ids]]);
    },
    async allIds() {
      const result = await db.query('SELECT id FROM tweetbus_outbox');
      return result.rows.map((r) => String(r.id));
    },
    async failedReasons() {
      const result = await db.query('SELECT id, failed_reason FROM tweetbus_outbox WHERE failed_at IS NOT NULL');
      return Object.fromEntries(result.rows.map((r) => [String(r.id), String(r.failed_reason)]));
    },
    async dispose() {
      await outbox.close();
      await database.dispose();
    },
  };
}

/**
 * Everything a PostgreSQL outbox (PGlite, PostgreSQL) must do: the shared outbox contract, and what
 * only the PostgreSQL scripts do. `open` is called before each test, for a database of its own.
 */
export function describePostgresOutboxContract(name: string, open: () => Promise<OutboxTestDatabase>): void {
  describeOutboxContract(name, async () => postgresOutboxUnderTest(await open()));

  describe(`postgres outbox contract: ${name}`, () => {
    let db: SqlDatabase;
    let subject: OutboxUnderTest & { readonly outbox: PostgresOutbox };
    let outbox: PostgresOutbox;

    beforeEach(async () => {
      const database = await open();
      db = database.db;
      subject = await postgresOutboxUnderTest(database);
      outbox = subject.outbox;
    });

    afterEach(async () => {
      await subject.dispose();
    });

    it('applies the schema a second time without error', async () => {
      await applyDemoOrdersSchema(db);
      await expect(outbox.check()).resolves.toBeUndefined();
    });

    it('dead-letters a row that is not a valid change event and returns the rows behind it', async () => {
      await db.query(
        `INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source)
         VALUES ('broken', 'not-a-collection!', 'k', 'x', '{"id":"k"}', 1, 'upsert', 'manual')`,
      );
      await outbox.append([orderEvent({ id: 'fine' })]);

      const rows = await readUntil(outbox, 1);

      expect(rows.map((r) => r.event.id)).toEqual(['fine']);
      expect((await subject.failedReasons()).broken).toMatch(/collection/);
      await outbox.markPublished(rows);
      expect(await outbox.readBatch(10)).toEqual([]);
    });

    it('refuses a captured row that has no key', async () => {
      await db.exec(`
        CREATE TABLE keyless (code text, status text);
        CREATE TRIGGER keyless_capture AFTER INSERT ON keyless FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('keyless');
      `);

      await expect(db.query(`INSERT INTO keyless (code, status) VALUES ('x', 'NEW')`)).rejects.toThrow(/key column id/);
      expect(await subject.allIds()).toEqual([]);
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
