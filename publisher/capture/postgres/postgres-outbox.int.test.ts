import { createLogger } from '../../../common/logger.js';
import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgSchema, pgTestDatabaseUrl, type PgTestSchema } from '../../../common/pg-test-schema.js';
import { readUntil } from '../outbox.contract.js';
import { createPgOutboxListener } from './outbox-listener.js';
import { describePostgresOutboxContract } from './postgres-outbox.contract.js';
import { createPostgresOutbox, type PostgresOutbox } from './postgres-outbox.js';
import { applyDemoOrdersSchema } from './schema.js';
import { openTransaction, releaseTransaction } from './transaction.fixture.js';

const openSchema = (): Promise<PgTestSchema> => openPgSchema(pgTestDatabaseUrl, { prefix: 'outbox_it' });

describePostgresOutboxContract('PostgreSQL', openSchema);

describe('PostgreSQL outbox with concurrent transactions', () => {
  let database: PgTestSchema;
  let outbox: PostgresOutbox;

  beforeAll(async () => {
    database = await openSchema();
    await applyDemoOrdersSchema(database.db);
    outbox = createPostgresOutbox({ db: database.db }, { logger: createLogger({ level: 'silent' }) });
  });

  afterAll(async () => {
    await database.dispose();
  });

  const begin = (): Promise<PoolClient> => openTransaction(database.pool);
  const end = releaseTransaction;

  it('reads a row whose transaction commits after a later-numbered one, and skips neither', async () => {
    const a = await begin();
    const b = await begin();
    try {
      // A takes the lower seq and version, B the higher; B commits first.
      await a.query(`INSERT INTO dvx_orders (id, status) VALUES ('late-a', 'NEW')`);
      await b.query(`INSERT INTO dvx_orders (id, status) VALUES ('early-b', 'NEW')`);
      await b.query('COMMIT');

      // While A runs, B's row is held back: a relay that took it now would move past A's lower seq.
      const whileAOpen = await outbox.readBatch(100);
      expect(whileAOpen.map((r) => r.event.key)).not.toContain('early-b');
      expect(whileAOpen).toEqual([]);

      await a.query('COMMIT');
    } finally {
      await end(a);
      await end(b);
    }

    const rows = await readUntil(outbox, 2, 100);
    expect(rows.map((r) => r.event.key)).toEqual(['late-a', 'early-b']);
    expect(rows[0] && rows[1] && rows[0].event.version < rows[1].event.version).toBe(true);
    await outbox.markPublished(rows);
    expect(await outbox.readBatch(100)).toEqual([]);
  });

  it('reads each key in version order, even when the later version is in the older transaction', async () => {
    const a = await begin();
    const b = await begin();
    try {
      // B takes its transaction id first (tx_id(B) < tx_id(A)). A inserts the key and commits; B then
      // updates it (read committed: it sees A's row), so B's change gets the higher seq and version.
      // Reading by (tx_id, seq) would put B's update before A's insert of the same key.
      await b.query(`SELECT pg_current_xact_id()`);
      await a.query(`INSERT INTO dvx_orders (id, status) VALUES ('contended', 'NEW')`);
      await a.query('COMMIT');
      await b.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id = 'contended'`);

      expect((await outbox.readBatch(100)).map((r) => r.event.key)).not.toContain('contended');

      await b.query('COMMIT');
    } finally {
      await end(a);
      await end(b);
    }

    const rows = await readUntil(outbox, 2, 100);
    expect(rows.map((r) => [r.event.key, r.event.data?.status])).toEqual([
      ['contended', 'NEW'],
      ['contended', 'PAID'],
    ]);
    expect(rows[0] && rows[1] && rows[0].event.version < rows[1].event.version).toBe(true);
    await outbox.markPublished(rows);
  });

  it('wakes a LISTENing relay when a captured change commits, not before', async () => {
    const listener = createPgOutboxListener(database.pool, { reconnectMs: 100, logger: createLogger({ level: 'silent' }) });
    await listener.ready;
    let wakeups = 0;
    const woken = new Promise<void>((resolve) =>
      listener.wake(() => {
        wakeups += 1;
        resolve();
      }),
    );
    const tx = await begin();
    try {
      await tx.query(`INSERT INTO dvx_orders (id, status) VALUES ('notify', 'NEW')`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(wakeups).toBe(0);
      await tx.query('COMMIT');
    } finally {
      await end(tx);
    }

    await woken;
    expect(wakeups).toBeGreaterThan(0);
    await listener.close();
    await listener.close();
  });
});
