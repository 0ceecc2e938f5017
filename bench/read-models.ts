import type { Logger } from '../common/logger.js';
import { openPgSchema } from '../common/pg-test-schema.js';
import { createPostgresReadModelStore } from '../consumer/stores/postgres/postgres-read-model-store.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';

/** A PostgreSQL read model in a throwaway schema (`<prefix>_<random>`) of `databaseUrl`; `dispose` closes it and drops the schema. */
export async function openPostgresReadModel(databaseUrl: string, prefix: string, logger: Logger): Promise<{ store: ReadModelStore; dispose: () => Promise<void> }> {
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
