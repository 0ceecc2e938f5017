import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlFromPgPool, type SqlDatabase } from '../../../common/sql.js';
import { createPgOutboxListener } from './outbox-listener.js';
import { describePostgresOutboxContract, readUntil } from './postgres-outbox.contract.js';
import { createPostgresOutbox, type PostgresOutbox } from './postgres-outbox.js';
import { applyDemoOrdersSchema } from './schema.js';

const databaseUrl = 'postgres://postgres@127.0.0.1:5432/test';

/** A uniquely named schema, and a pool whose connections all use it. */
async function openSchema(): Promise<{ pool: pg.Pool; db: SqlDatabase; dispose(): Promise<void> }> {
  const schema = `outbox_it_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path=${schema}`, max: 5 });
  const db = sqlFromPgPool(pool, { owned: true });
  return {
    pool,
    db,
    async dispose() {
      await db.close();
      const cleanup = new pg.Client({ connectionString: databaseUrl });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    },
  };
}

describePostgresOutboxContract('PostgreSQL', openSchema);

describe('PostgreSQL outbox with concurrent transactions', () => {
  let database: Awaited<ReturnType<typeof openSchema>>;
  let outbox: PostgresOutbox;

  beforeAll(async () => {
    database = await openSchema();
    await applyDemoOrdersSchema(database.db);
    outbox = createPostgresOutbox({ db: database.db });
  });

  afterAll(async () => {
    await database.dispose();
  });

  async function begin(): Promise<pg.PoolClient> {
    const client = await database.pool.connect();
    await client.query('BEGIN');
    return client;
  }

  /** Rolls back whatever a failed test left open (a no-op after COMMIT), then returns the connection. */
  async function end(client: pg.PoolClient): Promise<void> {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }

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

  it('orders by transaction first, so a lower seq in a later transaction comes after, and both are read', async () => {
    const a = await begin();
    const b = await begin();
    try {
      // B takes its transaction id first (any write assigns one), so tx_id(B) < tx_id(A),
      // but A inserts into the outbox first and gets the lower seq.
      await b.query(`SELECT pg_current_xact_id()`);
      await a.query(`INSERT INTO dvx_orders (id, status) VALUES ('tx-later', 'NEW')`);
      await b.query(`INSERT INTO dvx_orders (id, status) VALUES ('tx-earlier', 'NEW')`);
      await a.query('COMMIT');

      expect((await outbox.readBatch(100)).map((r) => r.event.key)).not.toContain('tx-later');

      await b.query('COMMIT');
    } finally {
      await end(a);
      await end(b);
    }

    const rows = await readUntil(outbox, 2, 100);
    expect(rows.map((r) => r.event.key)).toEqual(['tx-earlier', 'tx-later']);
    expect(rows[0] && rows[1] && rows[0].seq > rows[1].seq).toBe(true);
    await outbox.markPublished(rows);
  });

  it('wakes a LISTENing relay when a captured change commits, not before', async () => {
    const listener = createPgOutboxListener(database.pool, { reconnectMs: 100 });
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
