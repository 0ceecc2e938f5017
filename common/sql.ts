import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

/**
 * The small slice of a SQL connection that the outbox, the relay and the read-model stores need.
 * It has two adapters: PGlite (embedded, same SQL as PostgreSQL) and a `pg` Pool. Code written
 * against it runs unchanged on both.
 */
export interface SqlQueryable {
  /** One statement with `$1…` parameters. Rows come back as plain objects; parse them before use. */
  query(text: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number }>;
}

export interface SqlDatabase extends SqlQueryable {
  /** Several statements without parameters (schema scripts). */
  exec(text: string): Promise<void>;
  /** Runs `fn` in one transaction: commits if it resolves, rolls back if it throws. */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /** Closes only what this adapter created. Calling it twice is harmless. */
  close(): Promise<void>;
}

type PgliteLike = Pick<PGlite, 'query' | 'exec' | 'transaction' | 'close' | 'closed'>;

function pgliteQueryable(db: Pick<Transaction, 'query'>): SqlQueryable {
  return {
    async query(text, params = []) {
      const result = await db.query<Record<string, unknown>>(text, [...params]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
  };
}

/** Wraps a PGlite instance. `owned` says whether `close()` should close it. */
export function sqlFromPglite(db: PgliteLike, options: { owned: boolean }): SqlDatabase {
  let closed = false;
  return {
    ...pgliteQueryable(db),
    async exec(text) {
      await db.exec(text);
    },
    transaction(fn) {
      return db.transaction((tx) => fn(pgliteQueryable(tx)));
    },
    async close() {
      if (closed || !options.owned) return;
      closed = true;
      if (!db.closed) await db.close();
    },
  };
}

function pgQueryable(client: Pick<Pool | PoolClient, 'query'>): SqlQueryable {
  return {
    async query(text, params = []) {
      const result = await client.query<Record<string, unknown>>(text, [...params]);
      return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
    },
  };
}

/** Wraps a `pg` Pool. `owned` says whether `close()` should end the pool. */
export function sqlFromPgPool(pool: Pool, options: { owned: boolean }): SqlDatabase {
  let closed = false;
  return {
    ...pgQueryable(pool),
    async exec(text) {
      await pool.query(text);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(pgQueryable(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed || !options.owned) return;
      closed = true;
      await pool.end();
    },
  };
}
