import { mkdir } from 'node:fs/promises';
import { Pool } from 'pg';
import { redactUrl, type Logger } from '../../common/logger.js';
import { choosePgliteTier } from '../../common/pglite.js';
import type { Scope } from '../../common/scope.js';
import { sqlFromPgPool } from '../../common/sql.js';
import type { ConsumerStoreConfig } from '../config.js';
import { createEmbeddedReadModelStore } from './embedded/embedded-read-model-store.js';
import { createPostgresReadModelStore } from './postgres/postgres-read-model-store.js';
import type { ReadModelStore } from './read-model-store.js';

/**
 * Opens the read model a configuration names, as the consumer and `npm run verify` open it. A client
 * opened here is deferred to `scope`, so a failed start still closes it; the store itself is the caller's to close.
 */
export async function openReadModelStore(config: ConsumerStoreConfig, logger: Logger, scope: Scope): Promise<ReadModelStore> {
  switch (config.kind) {
    case 'embedded': {
      choosePgliteTier(config.optimize);
      await mkdir(config.dataDir, { recursive: true });
      logger.info({ dataDir: config.dataDir }, 'read model: embedded PGlite');
      return createEmbeddedReadModelStore({ dataDir: config.dataDir }, { logger });
    }
    case 'postgres': {
      logger.info({ url: redactUrl(config.url) }, 'read model: PostgreSQL');
      const pool = new Pool({ connectionString: config.url });
      pool.on('error', (err) => {
        logger.warn({ err }, 'idle PostgreSQL connection failed');
      });
      const db = sqlFromPgPool(pool, { owned: true });
      scope.defer(() => db.close());
      return createPostgresReadModelStore({ db }, { logger });
    }
    case 'mongodb': {
      // Loaded only here: the driver is the largest of the client libraries (see transports/open.ts).
      const [{ MongoClient }, { createMongoReadModelStore }] = await Promise.all([import('mongodb'), import('./mongodb/mongodb-read-model-store.js')]);
      logger.info({ url: redactUrl(config.url), database: config.database }, 'read model: MongoDB');
      const client = new MongoClient(config.url);
      scope.defer(() => client.close());
      return createMongoReadModelStore({ client }, { database: config.database, logger });
    }
  }
}
