import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findUp } from '../../../common/find-up.js';
import type { SqlDatabase } from '../../../common/sql.js';

/** The scripts in `sql/postgres/`, in the order they must run. */
export const outboxSchemaFiles = ['001_outbox.sql'] as const;
/** The demo's `dvx_orders` table and its capture trigger; needs the outbox schema first. */
export const demoOrdersSchemaFiles = ['010_orders.sql'] as const;

const marker = join('sql', 'postgres', '001_outbox.sql');

/**
 * Finds the repository's `sql/postgres` directory by walking up from `fromUrl` (a module URL).
 * Walking up works from the sources (`publisher/capture/postgres/`), from the build
 * (`dist/publisher/capture/postgres/`, where tsc copies no .sql) and from an image that ships
 * `sql/` beside `dist/`.
 */
export function locateSqlDir(fromUrl: string | URL = import.meta.url): string {
  const root = findUp(marker, fromUrl);
  if (root === undefined) throw new Error(`No ${marker} found in ${dirname(fileURLToPath(fromUrl))} or any directory above it`);
  return join(root, 'sql', 'postgres');
}

/**
 * Taken first in each script's implicit transaction (one `exec` runs as one), so instances that start
 * at once apply the scripts one after another: concurrent `CREATE … IF NOT EXISTS` of one object
 * otherwise fails in all but one of them with a unique violation in the catalog.
 */
const schemaLockSql = `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.tweetbus_schema', 0));\n`;

async function applyFiles(db: SqlDatabase, files: readonly string[], sqlDir: string): Promise<void> {
  for (const file of files) {
    await db.exec(schemaLockSql + (await readFile(join(sqlDir, file), 'utf8')));
  }
}

/** Creates the outbox table, version sequence and `tweetbus_capture()` trigger function. Idempotent. */
export async function applyOutboxSchema(db: SqlDatabase, options: { sqlDir?: string } = {}): Promise<void> {
  await applyFiles(db, outboxSchemaFiles, options.sqlDir ?? locateSqlDir());
}

/** Creates the outbox schema, then the demo's `dvx_orders` table with its capture trigger. Idempotent. */
export async function applyDemoOrdersSchema(db: SqlDatabase, options: { sqlDir?: string } = {}): Promise<void> {
  const sqlDir = options.sqlDir ?? locateSqlDir();
  await applyFiles(db, [...outboxSchemaFiles, ...demoOrdersSchemaFiles], sqlDir);
}
