import { createLogger } from '../../../common/logger.js';
import { newPglite } from '../../../common/pglite.fixture.js';
import { openPgSchema, pgTestDatabaseUrl } from '../../../common/pg-test-schema.js';
import { sqlFromPglite, type SqlDatabase } from '../../../common/sql.js';
import type { ReadModelStore } from '../../../consumer/stores/read-model-store.js';
import { createPostgresOutbox } from './postgres-outbox.js';
import { applyDemoOrdersSchema } from './schema.js';
import type { CapturedTable } from '../snapshot.js';
import { capturedTablesOf } from './snapshot.js';

/** The write databases the snapshot and verify tests run on: a schema of the real PostgreSQL, and PGlite. */

const logger = createLogger({ level: 'silent' });

export interface WriteDatabase {
  readonly db: SqlDatabase;
  /** Another connection's worth of concurrency: the PostgreSQL pool has several; PGlite has one. */
  readonly concurrent: boolean;
  readonly schema: string | undefined;
  readonly dispose: () => Promise<void>;
}

export const writeDatabases: readonly [string, () => Promise<WriteDatabase>][] = [
  [
    'PostgreSQL',
    async () => {
      const opened = await openPgSchema(pgTestDatabaseUrl, { prefix: 'writedb', max: 8 });
      return { db: opened.db, concurrent: true, schema: opened.schema, dispose: () => opened.dispose() };
    },
  ],
  [
    'PGlite',
    async () => {
      const db = sqlFromPglite(await newPglite(), { owned: true });
      return { db, concurrent: false, schema: undefined, dispose: () => db.close() };
    },
  ],
];

/** Everything the relay would send, in its order, applied to `store` (a real PostgreSQL read model). */
export async function relayInto(db: SqlDatabase, store: ReadModelStore): Promise<void> {
  const outbox = createPostgresOutbox({ db }, { logger });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows = await outbox.readBatch(500);
    if (rows.length > 0) {
      await store.applyBatch(rows.map((r) => r.event));
      await outbox.markPublished(rows);
      continue;
    }
    // The relay reads only below the oldest running transaction of the whole cluster (rule 5), which
    // another test file's may hold back for a moment: done when nothing is left unpublished.
    const left = await db.query('SELECT count(*)::integer AS left FROM tweetbus_outbox WHERE published_at IS NULL AND failed_at IS NULL');
    if (left.rows[0]?.['left'] === 0) return;
    if (Date.now() > deadline) throw new Error('outbox rows stayed invisible to the relay for 20 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `items` (integer keys, so the key's own order is not text order) with `rows` rows, then the trigger: rows the trigger never saw. */
export async function itemsBeforeTheTrigger(db: SqlDatabase, rows: number): Promise<CapturedTable> {
  await applyDemoOrdersSchema(db);
  await db.exec(`CREATE TABLE items (n integer PRIMARY KEY, label text, qty integer);
    INSERT INTO items SELECT g, 'item ' || g, g % 7 FROM generate_series(1, ${String(rows)}) g;
    CREATE TRIGGER items_capture AFTER INSERT OR UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('things', 'n');`);
  const [items] = await capturedTablesOf(db, 'things');
  if (items === undefined) throw new Error('items is not captured');
  return items;
}

