import type { Pool, PoolClient } from 'pg';

/** A connection of `pool` with a transaction open on it: a writer the test holds in flight. */
export async function openTransaction(pool: Pool): Promise<PoolClient> {
  const client = await pool.connect();
  await client.query('BEGIN');
  return client;
}

/** Rolls back whatever a failed test left open (a no-op after COMMIT), then returns the connection. */
export async function releaseTransaction(client: PoolClient): Promise<void> {
  await client.query('ROLLBACK').catch(() => undefined);
  client.release();
}
