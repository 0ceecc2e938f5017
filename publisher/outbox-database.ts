import type { PGlite } from '@electric-sql/pglite';
import { Pool } from 'pg';
import { ConfigError } from '../common/errors.js';
import { redactUrl, type Logger } from '../common/logger.js';
import { choosePgliteTier, openPglite } from '../common/pglite.js';
import { sqlFromPglite, sqlFromPgPool, type SqlDatabase } from '../common/sql.js';
import { applyOutboxSchema } from './capture/postgres/schema.js';
import { postgresSnapshotTarget } from './capture/postgres/snapshot.js';
import type { SnapshotTarget } from './capture/snapshot.js';
import type { OutboxConfig } from './config.js';

/**
 * The database of a PostgreSQL or embedded outbox, opened the one way the publisher and
 * `npm run snapshot` share, with the outbox schema applied where the publisher applies it: always
 * for the embedded one, for PostgreSQL unless OUTBOX_APPLY_SCHEMA=false (a DBA's DDL). Closing `db`
 * closes the rest.
 */

/** The publisher's own PGlite in DATA_DIR. */
export async function openEmbeddedOutbox(outbox: Extract<OutboxConfig, { kind: 'embedded' }>, logger: Logger): Promise<{ db: SqlDatabase; pglite: PGlite }> {
  choosePgliteTier(outbox.optimize);
  const pglite = await openPglite(outbox.path, { logger });
  const db = sqlFromPglite(pglite, { owned: true });
  await withSchema(db, true);
  return { db, pglite };
}

/** A pool on the write database. */
export async function openPostgresOutbox(
  outbox: Extract<OutboxConfig, { kind: 'postgres' }>,
  logger: Logger,
  options: { readonly maxConnections?: number } = {},
): Promise<{ db: SqlDatabase; pool: Pool }> {
  const pool = new Pool({ connectionString: outbox.databaseUrl, ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }) });
  pool.on('error', (err) => {
    logger.warn({ err }, 'idle PostgreSQL connection failed');
  });
  const db = sqlFromPgPool(pool, { owned: true });
  await withSchema(db, outbox.applySchema);
  return { db, pool };
}

async function withSchema(db: SqlDatabase, apply: boolean): Promise<void> {
  try {
    if (apply) await applyOutboxSchema(db);
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * The outbox database for a tool that works on the write tables beside the publisher (`npm run
 * snapshot`, `npm run verify`): PostgreSQL or the embedded outbox; `what` names the tool's work for
 * the refusal on Oracle.
 */
export async function openOutboxDatabase(outbox: OutboxConfig, logger: Logger, what: string): Promise<SqlDatabase> {
  switch (outbox.kind) {
    case 'oracle':
      throw new ConfigError([`${what} run on PostgreSQL and the embedded outbox; on Oracle they are not built yet`]);
    case 'embedded':
      logger.info({ path: outbox.path }, 'outbox: embedded PGlite (the publisher using it must be stopped)');
      return (await openEmbeddedOutbox(outbox, logger)).db;
    case 'postgres':
      logger.info({ url: redactUrl(outbox.databaseUrl) }, 'outbox: PostgreSQL');
      return (await openPostgresOutbox(outbox, logger, { maxConnections: 2 })).db;
  }
}

/** Why a tool failed; when a function of this release's outbox schema is missing, what the DBA applies (OUTBOX_APPLY_SCHEMA=false). */
export function explainOutboxFailure(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  const message = err instanceof ConfigError ? err.issues.join('; ') : err instanceof Error ? err.message : String(err);
  return code === '42883' || code === '42P01' ? `${message}: apply this release's sql/postgres/001_outbox.sql to the write database first` : message;
}

/**
 * What snapshots need of the outbox's database, opened for `npm run snapshot` or SNAPSHOT_ON_ATTACH:
 * PostgreSQL or the embedded outbox (`db`, when the caller has it open already), or Oracle (a small
 * pool of its own). `close` releases only what this opened.
 */
export async function openSnapshotTarget(outbox: OutboxConfig, logger: Logger, db?: SqlDatabase): Promise<{ target: SnapshotTarget; close: () => Promise<void> }> {
  if (outbox.kind === 'oracle') {
    const [{ createOraclePool, parseOracleUrl }, { oracleSnapshotTarget }] = await Promise.all([import('./capture/oracle/oracle-outbox.js'), import('./capture/oracle/oracle-snapshot.js')]);
    const pool = await createOraclePool(outbox.databaseUrl, { poolMax: 2, name: 'OUTBOX_DATABASE_URL' });
    const options = { schema: parseOracleUrl(outbox.databaseUrl, 'OUTBOX_DATABASE_URL').schema, logger };
    return { target: oracleSnapshotTarget(pool, options), close: () => pool.close(0) };
  }
  if (db !== undefined) return { target: postgresSnapshotTarget(db), close: () => Promise.resolve() };
  const opened = await openOutboxDatabase(outbox, logger, 'snapshots');
  return { target: postgresSnapshotTarget(opened), close: () => opened.close() };
}
