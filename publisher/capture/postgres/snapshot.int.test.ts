import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../../../common/errors.js';
import { createLogger } from '../../../common/logger.js';
import { pgAdminQuery, pgTestDatabaseUrl } from '../../../common/pg-test-schema.js';
import { seededRandom } from '../../../common/seeded-random.js';
import type { SqlDatabase } from '../../../common/sql.js';
import { createPostgresReadModelStore } from '../../../consumer/stores/postgres/postgres-read-model-store.js';
import { itemsBeforeTheTrigger, relayInto, writeDatabases as databases, type WriteDatabase as Database } from './write-database.fixture.js';
import { capturedTables, capturedTablesOf, postgresSnapshotStore, snapshotTable } from './snapshot.js';

/**
 * Issue 27: a table that holds rows before the capture trigger is attached reaches the read model by
 * a snapshot, chunk by chunk, and a snapshot racing live writers ends equal to the table, row by row.
 * The same SQL on the real PostgreSQL and on PGlite.
 */

const logger = createLogger({ level: 'silent' });

const outboxRowSchema = z.object({ aggregateid: z.string(), payload: z.unknown(), op: z.string(), version: z.string() });

async function outboxRows(db: SqlDatabase): Promise<z.infer<typeof outboxRowSchema>[]> {
  const result = await db.query(`SELECT aggregateid, payload, op, version::text AS version FROM tweetbus_outbox WHERE aggregatetype = 'things' ORDER BY seq`);
  return result.rows.map((row) => outboxRowSchema.parse(row));
}

const itemSchema = z.object({ n: z.number(), label: z.string().nullable(), qty: z.number().nullable() });

async function tableImages(db: SqlDatabase): Promise<Map<string, unknown>> {
  const result = await db.query('SELECT to_jsonb(i) AS image FROM items i');
  return new Map(result.rows.map((row) => {
    const image = itemSchema.parse(z.object({ image: z.unknown() }).parse(row).image);
    return [String(image.n), image];
  }));
}

describe.each(databases)('snapshots on %s', (_name, open) => {
  let database: Database | undefined;
  afterEach(async () => {
    await database?.dispose();
    database = undefined;
  });

  it('enqueues the current image of every row the trigger never saw, in chunks of the key, and records that it finished', async () => {
    database = await open();
    const { db } = database;
    const items = await itemsBeforeTheTrigger(db, 53);
    expect(await outboxRows(db)).toEqual([]);
    expect((await postgresSnapshotStore(db).state(items))?.finished === true).toBe(false);

    const progress: number[] = [];
    const result = await snapshotTable(db, items, { chunkSize: 10, onProgress: (p) => {
      progress.push(p.enqueued);
    } });

    expect(result).toMatchObject({ table: 'items', collection: 'things', enqueued: 53, resumed: false });
    expect(progress).toEqual([10, 20, 30, 40, 50, 53]);
    const rows = await outboxRows(db);
    expect(rows.map((r) => r.aggregateid)).toEqual(Array.from({ length: 53 }, (_, i) => String(i + 1)));
    expect(rows.every((r) => r.op === 'upsert')).toBe(true);
    const images = await tableImages(db);
    for (const row of rows) expect(row.payload).toEqual(images.get(row.aggregateid));
    expect((await postgresSnapshotStore(db).state(items))?.finished === true).toBe(true);
  });

  it('goes on after the last chunk of a snapshot that stopped half way, and starts anew once one finished', async () => {
    database = await open();
    const { db } = database;
    const items = await itemsBeforeTheTrigger(db, 25);
    await expect(
      snapshotTable(db, items, {
        chunkSize: 10,
        onProgress: (p) => {
          if (p.enqueued === 10) throw new Error('the process died');
        },
      }),
    ).rejects.toThrow('the process died');
    expect((await postgresSnapshotStore(db).state(items))?.finished === true).toBe(false);

    const resumed = await snapshotTable(db, items, { chunkSize: 10 });
    expect(resumed).toMatchObject({ enqueued: 15, resumed: true });
    expect((await outboxRows(db)).map((r) => r.aggregateid)).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));

    const again = await snapshotTable(db, items, { chunkSize: 10 });
    expect(again).toMatchObject({ enqueued: 25, resumed: false });
  });

  it('says which collections are captured when asked for one that is not', async () => {
    database = await open();
    const { db } = database;
    await itemsBeforeTheTrigger(db, 1);
    expect((await capturedTables(db)).map((t) => [t.table, t.collection, t.keyColumn])).toEqual([
      ['dvx_orders', 'orders', 'id'],
      ['items', 'things', 'n'],
    ]);
    const refused = await capturedTablesOf(db, 'nothing').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(String(refused)).toContain('the captured collections are "orders", "things"');
  });

  it('ends equal to the table, row by row, while writers insert, update and delete the same rows', async () => {
    database = await open();
    const { db, concurrent, schema } = database;
    const items = await itemsBeforeTheTrigger(db, 400);
    const next = seededRandom(27);
    let changes = 0;
    const change = async (): Promise<void> => {
      const n = 1 + Math.floor(next() * 450);
      const roll = next();
      if (roll < 0.6) await db.query('UPDATE items SET qty = coalesce(qty, 0) + 1, label = $2 WHERE n = $1', [n, `changed ${String(changes)}`]);
      else if (roll < 0.8) await db.query('DELETE FROM items WHERE n = $1', [n]);
      else await db.query('INSERT INTO items (n, label, qty) VALUES ($1, $2, 0) ON CONFLICT (n) DO UPDATE SET qty = items.qty + 100', [n, `inserted ${String(changes)}`]);
      changes += 1;
    };
    if (concurrent) {
      // Writers on other connections, racing each chunk's row locks.
      let writing = true;
      const writers = Array.from({ length: 4 }, async () => {
        while (writing) await change();
      });
      await snapshotTable(db, items, { chunkSize: 7 });
      writing = false;
      await Promise.all(writers);
    } else {
      // PGlite runs one statement at a time: the writes come between the chunks.
      await snapshotTable(db, items, {
        chunkSize: 7,
        onProgress: async () => {
          for (let i = 0; i < 5; i += 1) await change();
        },
      });
    }
    expect(changes).toBeGreaterThan(20);

    const readModelSchema = schema === undefined ? 'read_model' : `${schema}_rm`;
    const store = await createPostgresReadModelStore({ db }, { schema: readModelSchema, logger });
    try {
      await relayInto(db, store);
      const table = await tableImages(db);
      const documents = await store.find('things', {}, { limit: 1_000 });
      expect(new Map(documents.map((d) => [d.key, d.data]))).toEqual(table);
    } finally {
      await store.close();
      if (schema !== undefined) await pgAdminQuery(pgTestDatabaseUrl, `DROP SCHEMA IF EXISTS "${readModelSchema}" CASCADE`);
    }
  });
});
