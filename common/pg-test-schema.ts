import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sqlFromPgPool, type SqlDatabase } from './sql.js';

// Throwaway schemas on a real PostgreSQL, for integration tests and benchmarks (so no vitest here): many
// run at once on one server, and each keeps to a schema of its own through its connections' search_path.

/** The server the integration tests use (see README, "Tests"). */
export const pgTestDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/test';

/** Runs one statement on a connection of its own, outside any schema's pool, and closes it. */
export async function pgAdminQuery(databaseUrl: string, text: string, params?: readonly unknown[]): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await client.query(text, params === undefined ? undefined : [...params]);
  } finally {
    await client.end();
  }
}

/** Creates a schema named `<prefix>_<random hex>`; `drop` removes it with everything in it. */
export async function createPgSchema(databaseUrl: string, prefix: string): Promise<{ readonly schema: string; readonly drop: () => Promise<void> }> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  await pgAdminQuery(databaseUrl, `CREATE SCHEMA ${schema}`);
  return {
    schema,
    drop: async () => {
      await pgAdminQuery(databaseUrl, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

/**
 * Creates a database named `<prefix>_<random hex>` on the server of `databaseUrl`, for a service
 * whose schema names are fixed (the PostgreSQL read model's `read_model`); `drop` removes it, ending
 * any session still in it.
 */
export async function createPgDatabase(databaseUrl: string, prefix: string): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await pgAdminQuery(databaseUrl, `CREATE DATABASE ${name}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await pgAdminQuery(databaseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * A pool whose connections all use `schema` as their search_path. The caller ends it. Errors of idle
 * connections are ignored: tests kill backends on purpose, and that must not crash the process.
 */
export function pgSchemaPool(databaseUrl: string, schema: string, options: { readonly max?: number; readonly applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    options: `-c search_path=${schema}`,
    max: options.max ?? 5,
    ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
  });
  pool.on('error', () => undefined);
  return pool;
}

export interface PgTestSchema {
  readonly schema: string;
  /** Every connection of it uses the schema. */
  readonly pool: pg.Pool;
  /** The pool as a `SqlDatabase`; closing it ends the pool. */
  readonly db: SqlDatabase;
  /** Ends the pool, then drops the schema. */
  dispose(): Promise<void>;
}

/** A new, empty schema (`<prefix>_<random hex>`) and a pool of at most `max` connections (default 5) on it. */
export async function openPgSchema(databaseUrl: string, options: { readonly prefix: string; readonly max?: number }): Promise<PgTestSchema> {
  const { schema, drop } = await createPgSchema(databaseUrl, options.prefix);
  const pool = pgSchemaPool(databaseUrl, schema, { max: options.max ?? 5 });
  const db = sqlFromPgPool(pool, { owned: true });
  return {
    schema,
    pool,
    db,
    async dispose() {
      await db.close();
      await drop();
    },
  };
}
