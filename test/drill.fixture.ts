import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../common/logger.js';
import { createPgDatabase, createPgSchema, pgSchemaPool, pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { sqlFromPgPool, type SqlDatabase } from '../common/sql.js';
import { createPostgresReadModelStore } from '../consumer/stores/postgres/postgres-read-model-store.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';
import { demoOrdersSchemaFiles, locateSqlDir } from '../publisher/capture/postgres/schema.js';
import type { ServiceGroup } from './processes.fixture.js';
import { expectReadModelEqualsWriteTable, noDrift } from './row-by-row.fixture.js';

/**
 * The databases of a fault drill on the real PostgreSQL: a write schema (the outbox, and dvx_orders
 * with its capture trigger) for a publisher process, and a database of its own for a consumer
 * process's PostgreSQL read model (its schema name is fixed), which the drill reads through the store
 * port to compare with dvx_orders row by row.
 */
export interface DrillDatabases {
  /** The write side, in the drill's schema. */
  readonly writeDb: SqlDatabase;
  /** OUTBOX_DATABASE_URL for a publisher process: the write schema through libpq's `options`. */
  readonly outboxUrl: string;
  /** POSTGRES_URL for a consumer process (STORE=postgres). */
  readonly readUrl: string;
  /** Creates dvx_orders and its trigger; call it once a publisher has created the outbox. */
  createOrdersTable(): Promise<void>;
  /** The read model, opened on first use. */
  readStore(): Promise<ReadModelStore>;
  /** Resolves once the relay has published every captured row. */
  everythingPublished(services: ServiceGroup): Promise<void>;
  /** Waits until the read model equals dvx_orders, then compares them row by row (the failure lists the keys). */
  expectReadModelEqualsWriteTable(services: ServiceGroup, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Stops a drill's services, then drops its databases, even when stopping failed. */
export async function closeDrill(services: ServiceGroup, db: DrillDatabases): Promise<void> {
  try {
    await services.close();
  } finally {
    await db.close();
  }
}

export async function openDrillDatabases(prefix: string): Promise<DrillDatabases> {
  const write = await createPgSchema(pgTestDatabaseUrl, prefix);
  const pool = pgSchemaPool(pgTestDatabaseUrl, write.schema, { max: 2 });
  const writeDb = sqlFromPgPool(pool, { owned: false });
  const read = await createPgDatabase(pgTestDatabaseUrl, `${prefix}_read`);
  let store: Promise<ReadModelStore> | undefined;
  const readStore = (): Promise<ReadModelStore> => {
    store ??= createPostgresReadModelStore({ connectionString: read.url }, { logger: createLogger({ level: 'silent' }) });
    return store;
  };
  return {
    writeDb,
    outboxUrl: `${pgTestDatabaseUrl}?options=${encodeURIComponent(`-c search_path=${write.schema}`)}`,
    readUrl: read.url,
    async createOrdersTable() {
      const sqlDir = locateSqlDir();
      for (const file of demoOrdersSchemaFiles) await writeDb.exec(await readFile(join(sqlDir, file), 'utf8'));
    },
    readStore,
    async everythingPublished(services) {
      await services.eventually(async () => {
        const { rows } = await writeDb.query('SELECT count(*)::int AS n FROM tweetbus_outbox WHERE published_at IS NULL');
        return rows[0]?.n === 0 ? true : undefined;
      }, 'the relay to publish every captured change');
    },
    async expectReadModelEqualsWriteTable(services, what, timeoutMs) {
      const target = await readStore();
      await services.eventually(noDrift({ db: writeDb }, target), what, timeoutMs);
      await expectReadModelEqualsWriteTable({ db: writeDb }, target);
    },
    async close() {
      try {
        await (await store)?.close();
        await pool.end();
      } finally {
        await read.drop();
        await write.drop();
      }
    },
  };
}
