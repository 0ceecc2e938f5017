import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { openPgSchema } from '../common/pg-test-schema.js';
import { createScope } from '../common/scope.js';
import type { SqlDatabase } from '../common/sql.js';
import { createEmbeddedReadModelStore } from '../consumer/stores/embedded/embedded-read-model-store.js';
import { createPostgresReadModelStore } from '../consumer/stores/postgres/postgres-read-model-store.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';
import { openEmbeddedWriteDatabase } from '../demo/demo.js';
import { createPgOutboxListener } from '../publisher/capture/postgres/outbox-listener.js';
import { createPostgresOutbox } from '../publisher/capture/postgres/postgres-outbox.js';
import { createPgWakeGate } from '../publisher/capture/postgres/wake-gate.js';
import { applyDemoOrdersSchema, applyOutboxSchema } from '../publisher/capture/postgres/schema.js';
import type { Capture } from '../publisher/wiring.js';
import type { BenchStore, BenchWriteDb } from './config.js';

/** The databases the benches open: each new and empty, each thrown away by its `dispose`. */

export interface BenchReadModel {
  readonly store: ReadModelStore;
  readonly dispose: () => Promise<void>;
}

export interface BenchWriteDatabase {
  readonly db: SqlDatabase;
  readonly capture: Capture;
  readonly dispose: () => Promise<void>;
}

/** A PostgreSQL read model in a throwaway schema (`<prefix>_<random>`) of `databaseUrl`; `dispose` closes it and drops the schema. */
export async function openPostgresReadModel(databaseUrl: string, prefix: string, logger: Logger): Promise<BenchReadModel> {
  const database = await openPgSchema(databaseUrl, { prefix, max: 4 });
  try {
    const store = await createPostgresReadModelStore({ db: database.db }, { schema: database.schema, logger });
    return {
      store,
      dispose: async () => {
        try {
          await store.close();
        } finally {
          await database.dispose();
        }
      },
    };
  } catch (err) {
    await database.dispose();
    throw err;
  }
}

/** A read model of the kind `store` names: embedded in a temporary directory, or PostgreSQL in a schema of its own. */
export async function openBenchReadModel(store: BenchStore, prefix: string, logger: Logger): Promise<BenchReadModel> {
  if (store.kind === 'postgres') return openPostgresReadModel(store.databaseUrl, prefix, logger);
  const dir = await mkdtemp(join(tmpdir(), `tweetbus-${prefix}-`));
  try {
    const embedded = await createEmbeddedReadModelStore({ dataDir: dir }, { logger });
    return {
      store: embedded,
      dispose: async () => {
        await embedded.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The write database on a PostgreSQL server: a schema of `databaseUrl` of its own with
 * `sql/postgres/` applied, a pool of `connections` (one per writer, and some for the relay), and the
 * LISTEN wake-up the publisher uses there.
 */
async function openPostgresWriteDatabase(databaseUrl: string, connections: number, logger: Logger): Promise<BenchWriteDatabase> {
  const database = await openPgSchema(databaseUrl, { prefix: 'bench_write', max: connections });
  try {
    await applyOutboxSchema(database.db);
    await applyDemoOrdersSchema(database.db);
    const listener = createPgOutboxListener(database.pool, { logger });
    await listener.ready;
    const outbox = createPostgresOutbox({ db: database.db }, { logger });
    return {
      db: database.db,
      capture: { outbox, wake: listener.wake, wakeGate: createPgWakeGate(database.db, { logger }) },
      dispose: async () => {
        await listener.close();
        await outbox.close();
        await database.dispose();
      },
    };
  } catch (err) {
    await database.dispose();
    throw err;
  }
}

/** A write database of the kind `kind` names: the demo's embedded one in a temporary directory, or a PostgreSQL schema. */
export async function openBenchWriteDatabase(kind: BenchWriteDb, settings: { databaseUrl: string; writers: number }, logger: Logger): Promise<BenchWriteDatabase> {
  if (kind === 'postgres') return openPostgresWriteDatabase(settings.databaseUrl, settings.writers + 4, logger);
  const dir = await mkdtemp(join(tmpdir(), 'tweetbus-bench-write-'));
  const scope = createScope(logger);
  const dispose = async (): Promise<void> => {
    await scope.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const { db, capture } = await openEmbeddedWriteDatabase(join(dir, 'write-db'), logger, scope);
    return { db, capture, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
