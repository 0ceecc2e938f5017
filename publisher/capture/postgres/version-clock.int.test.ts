import { newPglite } from '../../../common/pglite.fixture.js';
import { createLogger } from '../../../common/logger.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../common/wait.fixture.js';
import { openPgSchema, pgTestDatabaseUrl } from '../../../common/pg-test-schema.js';
import { sqlFromPglite, type SqlDatabase, type SqlQueryable } from '../../../common/sql.js';
import { createEmbeddedReadModelStore } from '../../../consumer/stores/embedded/embedded-read-model-store.js';
import { aChangeEvent, compareBigints } from '../../../events/change-event.fixture.js';
import { versionAt, versionTimeMs } from '../../../events/version-clock.js';
import { createPostgresOutbox } from './postgres-outbox.js';
import { applyDemoOrdersSchema } from './schema.js';

/**
 * Issue 22: the capture trigger's versions are a hybrid logical clock on X's snowflake scale, so a
 * database change and a hand-typed post (versioned by its post id) compare by time. Versions of one
 * key still strictly increase when changes share a millisecond, when the clock steps back, and when
 * a deleted key comes back. The same SQL on the real PostgreSQL and on PGlite. The clock is pinned
 * per transaction with the setting tweetbus.clock_ms, as a drill would.
 */

interface Database {
  readonly db: SqlDatabase;
  readonly dispose: () => Promise<void>;
}

const databases: readonly [string, () => Promise<Database>][] = [
  [
    'PostgreSQL',
    async () => {
      const schema = await openPgSchema(pgTestDatabaseUrl, { prefix: 'version_clock' });
      return { db: schema.db, dispose: () => schema.dispose() };
    },
  ],
  [
    'PGlite',
    async () => {
      const db = sqlFromPglite(await newPglite(), { owned: true });
      return { db, dispose: () => db.close() };
    },
  ],
];

/** An hour ago, on a whole second: pinned clocks stay behind the real one, which the last tests read. */
const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

describe.each(databases)('the capture clock on %s', (_name, open) => {
  let database: Database;
  let db: SqlDatabase;

  beforeAll(async () => {
    database = await open();
    db = database.db;
    await applyDemoOrdersSchema(db);
  });

  afterAll(async () => {
    await database.dispose();
  });

  /** Runs SQL in one transaction whose capture clock reads `ms` (undefined: the real clock). */
  async function at(ms: number | undefined, ...statements: string[]): Promise<void> {
    await db.transaction(async (tx: SqlQueryable) => {
      if (ms !== undefined) await tx.query(`SELECT set_config('tweetbus.clock_ms', $1, true)`, [String(ms)]);
      for (const statement of statements) await tx.query(statement);
    });
  }

  async function versionsOf(key: string): Promise<{ version: bigint; op: string; createdAt: number }[]> {
    const { rows } = await db.query(`SELECT version::text AS version, op, created_at FROM tweetbus_outbox WHERE aggregateid = $1 ORDER BY seq`, [key]);
    return rows.map((r) => ({ version: BigInt(String(r['version'])), op: String(r['op']), createdAt: new Date(String(r['created_at'])).getTime() }));
  }

  function expectStrictlyIncreasing(versions: readonly bigint[]): void {
    for (let i = 1; i < versions.length; i += 1) expect(versions[i], `version ${String(i)}`).toBeGreaterThan(versions[i - 1] ?? 0n);
  }

  it('gives the changes of one millisecond versions that increase, all on that millisecond, stamped with it', async () => {
    await at(t0, `INSERT INTO dvx_orders (id, status) VALUES ('same-ms', 'NEW')`, `UPDATE dvx_orders SET status = 'PAID' WHERE id = 'same-ms'`, `UPDATE dvx_orders SET status = 'SHIPPED' WHERE id = 'same-ms'`);
    await at(t0, `UPDATE dvx_orders SET status = 'DELIVERED' WHERE id = 'same-ms'`);

    const rows = await versionsOf('same-ms');
    expect(rows).toHaveLength(4);
    expectStrictlyIncreasing(rows.map((r) => r.version));
    // On X's scale: the first is at t0 (or just past an earlier test's last version), all within t0's millisecond.
    for (const row of rows) {
      expect(versionTimeMs(row.version)).toBe(t0);
      expect(row.createdAt).toBe(t0);
    }
  });

  it('keeps counting up from the last version when the clock steps back, until the clock catches up', async () => {
    await at(t0 + 10_000, `INSERT INTO dvx_orders (id, status) VALUES ('step-back', 'NEW')`);
    await at(t0 + 10_000 - 60_000, `UPDATE dvx_orders SET status = 'PAID' WHERE id = 'step-back'`);
    await at(t0 + 10_000 - 3_600_000, `UPDATE dvx_orders SET status = 'SHIPPED' WHERE id = 'step-back'`);
    await at(t0 + 20_000, `UPDATE dvx_orders SET status = 'DELIVERED' WHERE id = 'step-back'`);

    const rows = await versionsOf('step-back');
    expectStrictlyIncreasing(rows.map((r) => r.version));
    expect(rows.map((r) => versionTimeMs(r.version))).toEqual([t0 + 10_000, t0 + 10_000, t0 + 10_000, t0 + 20_000]);
    expect(rows[3]?.version).toBe(versionAt(t0 + 20_000) + 1n);
  });

  it('gives a deleted key that comes back a higher version than its tombstone, even on a clock that stepped back', async () => {
    await at(t0 + 30_000, `INSERT INTO dvx_orders (id, status) VALUES ('back', 'NEW')`);
    await at(t0 + 30_000, `DELETE FROM dvx_orders WHERE id = 'back'`);
    await at(t0 + 25_000, `INSERT INTO dvx_orders (id, status) VALUES ('back', 'AGAIN')`);
    await at(t0 + 25_000, `UPDATE dvx_orders SET id = 'moved' WHERE id = 'back'`);

    const rows = await versionsOf('back');
    expect(rows.map((r) => r.op)).toEqual(['upsert', 'delete', 'upsert', 'delete']);
    expectStrictlyIncreasing(rows.map((r) => r.version));
    const [moved] = await versionsOf('moved');
    expect(moved?.version).toBeGreaterThan(rows[3]?.version ?? 0n);
  });

  it('reads the real clock when nothing pins it: a version of now, on the scale of post ids', async () => {
    const before = Date.now();
    await at(undefined, `INSERT INTO dvx_orders (id, status) VALUES ('now', 'NEW')`);
    const after = Date.now();
    const [row] = await versionsOf('now');
    expect(versionTimeMs(row?.version ?? 0n)).toBeGreaterThanOrEqual(before - 1);
    expect(versionTimeMs(row?.version ?? 0n)).toBeLessThanOrEqual(after + 1);
  });

  it('upgrades an outbox and a read model of the small versions of an older release: nothing is frozen or lost', async () => {
    // As an older release left them: the sequence at 41, a pending row of version 41 from its trigger,
    // and a read model holding version 40 of one order and a year-old hand-typed post's version of another.
    await db.query(`SELECT setval('tweetbus_version_seq', 41)`);
    await db.query(
      `INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at)
       VALUES ('old-41', 'orders', 'old', 'orders.upserted', '{"id":"old","status":"PAID"}', 41, 'upsert', 'dvx_orders', now())`,
    );
    await db.query(`ALTER TABLE dvx_orders DISABLE TRIGGER dvx_orders_capture`);
    await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('old', 'PAID'), ('posted', 'BY HAND')`);
    await db.query(`ALTER TABLE dvx_orders ENABLE TRIGGER dvx_orders_capture`);
    const store = await createEmbeddedReadModelStore({}, { logger: createLogger({ level: 'silent' }) });
    try {
      const aYearAgo = versionAt(Date.now() - 365 * 86_400_000) + 123n;
      await store.applyBatch([
        aChangeEvent({ id: 'old-40', key: 'old', version: 40n, source: 'dvx_orders', data: { id: 'old', status: 'NEW' } }),
        aChangeEvent({ id: 'x:post', key: 'posted', version: aYearAgo, source: 'x:@fan', data: { id: 'posted', status: 'BY HAND' } }),
      ]);

      // The upgraded trigger's first changes: on the clock, far above 41 and above last year's post.
      await at(undefined, `UPDATE dvx_orders SET status = 'SHIPPED' WHERE id IN ('old', 'posted')`);
      const outbox = createPostgresOutbox({ db }, { logger: createLogger({ level: 'silent' }) });
      // The relay reads below the oldest transaction of the whole cluster (rule 5), which another test
      // file's may hold for a moment: wait for all three rows.
      const rows = await waitUntil(
        'the three rows to be readable',
        async () => {
          const read = (await outbox.readBatch(100)).filter((r) => ['old', 'posted'].includes(r.event.key));
          return read.length === 3 ? read : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 20 },
      );
      const versions = rows.map((r) => r.event.version).sort(compareBigints);
      expect(versions[0]).toBe(41n);
      expect(versions[1]).toBeGreaterThan(aYearAgo);
      await store.applyBatch(rows.map((r) => r.event));

      expect(await store.get('orders', 'old')).toMatchObject({ source: 'dvx_orders', data: { status: 'SHIPPED' } });
      expect(await store.get('orders', 'posted')).toMatchObject({ source: 'dvx_orders', data: { status: 'SHIPPED' } });
    } finally {
      await store.close();
    }
  });
});
