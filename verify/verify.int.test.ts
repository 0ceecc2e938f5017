import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import { pgAdminQuery, pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { createPostgresReadModelStore } from '../consumer/stores/postgres/postgres-read-model-store.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';
import { snapshotTable } from '../publisher/capture/postgres/snapshot.js';
import type { CapturedTable } from '../publisher/capture/snapshot.js';
import { resendKeys, tableInventory } from '../publisher/capture/postgres/table-inventory.js';
import { itemsBeforeTheTrigger, relayInto, writeDatabases, type WriteDatabase } from '../publisher/capture/postgres/write-database.fixture.js';
import { findDrift, type Drift } from './drift.js';
import { healDrift } from './heal.js';

/**
 * Issue 27: verify finds drift made by hand in a read model (documents removed, versions lowered and
 * raised, a deleted row brought back, a row the trigger never saw), reads only the differing buckets,
 * and after a heal the read model equals the table. On the real PostgreSQL and on PGlite, each with a
 * PostgreSQL-store read model in the same database.
 */

const logger = createLogger({ level: 'silent' });

interface Setup {
  readonly database: WriteDatabase;
  readonly store: ReadModelStore;
  readonly items: CapturedTable;
  /** The read model's schema, for drift made by hand. */
  readonly rm: string;
}

describe.each(writeDatabases)('verify and heal on %s', (_name, open) => {
  let setup: Setup | undefined;
  afterEach(async () => {
    if (setup === undefined) return;
    await setup.store.close();
    if (setup.database.schema !== undefined) await pgAdminQuery(pgTestDatabaseUrl, `DROP SCHEMA IF EXISTS "${setup.rm}" CASCADE`);
    await setup.database.dispose();
    setup = undefined;
  });

  /** `items` with `rows` rows from before the trigger, snapshotted, changed a little, all relayed. */
  async function replicated(rows: number): Promise<Setup> {
    const database = await open();
    const { db, schema } = database;
    const items = await itemsBeforeTheTrigger(db, rows);
    const rm = schema === undefined ? 'read_model' : `${schema}_rm`;
    const store = await createPostgresReadModelStore({ db }, { schema: rm, logger });
    setup = { database, store, items, rm };
    await snapshotTable(db, items);
    await db.query('UPDATE items SET qty = qty + 1 WHERE n % 10 = 0');
    await db.query('DELETE FROM items WHERE n IN (7, 8)');
    await relayInto(db, store);
    return setup;
  }

  const settled = { settleMs: 0, owner: 'items' };

  it('finds no drift in a read model equal to its table, reading nothing beyond the digests', async () => {
    const { database, store, items } = await replicated(500);
    const report = await findDrift(tableInventory(database.db, items), store.inventory('things'), settled);
    expect(report).toMatchObject({ tableRows: 498, readModelRows: 498, differingBuckets: 0, keysListed: 0, drift: [] });
    expect(report.buckets).toBe(32);
  });

  it('finds each kind of drift made by hand, heals it, and then finds none', async () => {
    const { database, store, items, rm } = await replicated(2_000);
    const { db } = database;
    // Removed from the read model, and a delete whose tombstone became live again.
    await db.query(`DELETE FROM "${rm}".documents WHERE collection = 'things' AND key IN ('1', '2', '3')`);
    await db.query(`UPDATE "${rm}".documents SET deleted = false, data = '{"n": 7, "label": "item 7", "qty": 0}' WHERE collection = 'things' AND key = '7'`);
    // Versions lowered and raised by hand.
    await db.query(`UPDATE "${rm}".documents SET version = version - 1000 WHERE collection = 'things' AND key IN ('20', '21')`);
    await db.query(`UPDATE "${rm}".documents SET version = version + 5 WHERE collection = 'things' AND key = '30'`);
    // Rows the trigger never saw: one the read model lacks, one it holds from elsewhere.
    await db.exec(`ALTER TABLE items DISABLE TRIGGER items_capture;
      INSERT INTO items (n, label, qty) VALUES (5001, 'quiet', 1), (5002, 'quiet too', 2);
      ALTER TABLE items ENABLE TRIGGER items_capture;`);
    await db.query(
      `INSERT INTO "${rm}".documents (collection, key, version, deleted, data, event_id, source, applied_at)
       VALUES ('things', '5002', 5, false, '{"n": 5002}', 'by-hand', 'items', now()),
              ('things', 'h1', 5, false, '{"n": 0}', 'hand-typed', 'x:@fan', now())`,
    );
    // A trusted author's hand-typed post took a row's document over (a newer version, its own source).
    await db.query(`UPDATE "${rm}".documents SET version = version + 7, source = 'x:@fan' WHERE collection = 'things' AND key = '40'`);

    const inventory = tableInventory(db, items);
    const report = await findDrift(inventory, store.inventory('things'), settled);
    const kinds = (drift: readonly Drift[]) => drift.map((d) => [d.key, d.kind]);
    expect(kinds(report.drift)).toEqual([
      ['1', 'missing'],
      ['2', 'missing'],
      ['20', 'behind'],
      ['21', 'behind'],
      ['3', 'missing'],
      ['30', 'ahead'],
      ['40', 'ahead'],
      ['5001', 'missing'],
      ['5002', 'unversioned'],
      ['7', 'extra'],
    ]);
    expect(report.drift.find((d) => d.key === '40')?.readModelSource).toBe('x:@fan');
    expect(report.drift.find((d) => d.key === '5001')?.tableVersion).toBeNull();
    // Only the differing buckets were listed (a key at two versions is in two): far fewer keys than the two sides hold.
    expect(report.buckets).toBe(128);
    expect(report.differingBuckets).toBeLessThanOrEqual(2 * 11);
    expect(report.keysListed).toBeLessThan(1_000);

    const healed = await healDrift(report.drift, (keys, above) => resendKeys(db, items, keys, above), { now: new Date(), maxAheadMs: 3_600_000 });
    expect(healed).toEqual({ upserts: 9, deletes: 1, refused: [] });
    await relayInto(db, store);

    const after = await findDrift(inventory, store.inventory('things'), settled);
    expect(after.drift).toEqual([]);
    expect(after.tableRows).toBe(2_000);
    expect((await store.get('things', '7'))?.deleted ?? true).toBe(true);
    expect((await store.get('things', '5001'))?.data).toEqual({ n: 5001, label: 'quiet', qty: 1 });
    // The hand-typed post's own document is not the table's: left alone.
    expect((await store.get('things', 'h1'))?.source).toBe('x:@fan');
    expect((await store.get('things', '40'))?.source).toBe('items');
  });

  it('refuses to heal a document held at a version far in the future, and heals the rest', async () => {
    const { database, store, items, rm } = await replicated(50);
    const { db } = database;
    await db.query(`UPDATE "${rm}".documents SET version = 9000000000000000000 WHERE collection = 'things' AND key = '5'`);
    await db.query(`DELETE FROM "${rm}".documents WHERE collection = 'things' AND key = '6'`);
    const report = await findDrift(tableInventory(db, items), store.inventory('things'), settled);
    expect(report.drift.map((d) => d.kind)).toEqual(['ahead', 'missing']);

    const healed = await healDrift(report.drift, (keys, above) => resendKeys(db, items, keys, above), { now: new Date(), maxAheadMs: 3_600_000 });
    expect(healed.upserts).toBe(1);
    expect(healed.refused.map((d) => d.key)).toEqual(['5']);
    // The clock did not move to the far-future version.
    const clock = await db.query("SELECT max(version)::text AS v FROM tweetbus_outbox");
    expect(BigInt(String(clock.rows[0]?.['v']))).toBeLessThan(9000000000000000000n);
  });

  it('waits for changes in flight to settle instead of calling them drift', async () => {
    const { database, store, items } = await replicated(100);
    const { db } = database;
    await db.query('UPDATE items SET label = $1 WHERE n IN (11, 12)', ['in flight']);
    const inventory = tableInventory(db, items);

    const unsettled = await findDrift(inventory, store.inventory('things'), settled);
    expect(unsettled.drift.map((d) => [d.key, d.kind])).toEqual([
      ['11', 'behind'],
      ['12', 'behind'],
    ]);

    // The relay delivers while verify waits.
    const report = await findDrift(inventory, store.inventory('things'), { settleMs: 5_000, pollMs: 10, sleep: () => relayInto(db, store) });
    expect(report.drift).toEqual([]);
    expect(report.differingBuckets).toBeGreaterThan(0);
  });
});
