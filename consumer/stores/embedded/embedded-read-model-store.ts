import { startPgliteUpkeep } from '../../../common/pglite-upkeep.js';
import type { PGlite } from '@electric-sql/pglite';
import { openPglite } from '../../../common/pglite.js';
import type { Logger } from '../../../common/logger.js';
import { sqlFromPglite } from '../../../common/sql.js';
import type { ReadModelStore } from '../read-model-store.js';
import { createPostgresReadModelStore } from '../postgres/postgres-read-model-store.js';

/**
 * The most events one statement of the embedded store applies. A statement's working memory (the
 * batch as JSON, its rows, what it returns) is WebAssembly memory, which never shrinks: a 4,000-event
 * batch in one statement left the consumer about 17 MiB larger for good. 1,000 a statement applies
 * as fast (docs/performance.md, "Memory").
 */
export const embeddedRowsPerStatement = 1_000;

/**
 * Where the database is: files in `dataDir` (in memory when absent: tests, throwaway demos), or a
 * PGlite instance of the caller's, which is left open on `close()`.
 */
export type EmbeddedReadModelConnection = { readonly dataDir?: string } | { readonly pglite: PGlite };

export interface EmbeddedReadModelStoreOptions {
  readonly logger: Logger;
  readonly schema?: string;
  readonly now?: () => Date;
}

/**
 * The default read model: PostgreSQL compiled to WebAssembly (PGlite), running in this process.
 * It is the PostgreSQL store on a PGlite connection, so both run the very same SQL.
 * `close()` closes the PGlite instance only when this store created it.
 */
export async function createEmbeddedReadModelStore(connection: EmbeddedReadModelConnection, options: EmbeddedReadModelStoreOptions): Promise<ReadModelStore> {
  const owned = !('pglite' in connection);
  const pglite = 'pglite' in connection ? connection.pglite : await openPglite(connection.dataDir, { logger: options.logger });
  const db = sqlFromPglite(pglite, { owned });
  const store = await createPostgresReadModelStore(
    { db },
    {
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      ...(options.now === undefined ? {} : { now: options.now }),
      logger: options.logger,
      maxRowsPerStatement: embeddedRowsPerStatement,
    },
  ).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });
  // PGlite runs no autovacuum: every version-gated upsert leaves a dead row behind. A PGlite of the
  // caller's is kept by the caller (the demo's one database has its upkeep already).
  const upkeep = owned ? startPgliteUpkeep(db, { logger: options.logger }) : undefined;
  let closed = false;
  return {
    ...store,
    async close() {
      if (closed) return;
      closed = true;
      await upkeep?.close();
      await store.close();
      await db.close();
    },
  };
}
