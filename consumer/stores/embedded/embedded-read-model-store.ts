import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../../../common/logger.js';
import { sqlFromPglite } from '../../../common/sql.js';
import type { ReadModelStore } from '../read-model-store.js';
import { createPostgresReadModelStore } from '../postgres/postgres-read-model-store.js';

export interface EmbeddedReadModelStoreOptions {
  /** Directory for the database files; in memory when absent (tests, throwaway demos). Ignored with `pglite`. */
  readonly dataDir?: string;
  /** A PGlite instance to use instead of creating one; it is left open on `close()`. */
  readonly pglite?: PGlite;
  readonly schema?: string;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/**
 * The default read model: PostgreSQL compiled to WebAssembly (PGlite), running in this process.
 * It is the PostgreSQL store on a PGlite connection, so both run the very same SQL.
 * `close()` closes the PGlite instance only when this store created it.
 */
export async function createEmbeddedReadModelStore(options: EmbeddedReadModelStoreOptions = {}): Promise<ReadModelStore> {
  const owned = options.pglite === undefined;
  const pglite = options.pglite ?? (options.dataDir === undefined ? new PGlite() : new PGlite(options.dataDir));
  const db = sqlFromPglite(pglite, { owned });
  const store = await createPostgresReadModelStore(
    { db },
    {
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    },
  ).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });
  let closed = false;
  return {
    ...store,
    async close() {
      if (closed) return;
      closed = true;
      await store.close();
      await db.close();
    },
  };
}
