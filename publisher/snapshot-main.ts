import { config as loadDotenv } from 'dotenv';
import { ConfigError } from '../common/errors.js';
import { createLogger, redactUrl, type Logger } from '../common/logger.js';
import { loadConfigOrReport } from '../common/process.js';
import type { SqlDatabase } from '../common/sql.js';
import { capturedTablesOf, snapshotTable } from './capture/postgres/snapshot.js';
import type { OutboxConfig } from './config.js';
import { openEmbeddedOutbox, openPostgresOutbox } from './outbox-database.js';
import { loadSnapshotConfig } from './snapshot-config.js';
import { progressReporter, snapshotSummary } from './snapshot-progress.js';

/**
 * `npm run snapshot -- --collection orders`: enqueues the current image of every row of the tables
 * captured into a collection (publisher/capture/postgres/snapshot.ts), with a progress bar on stderr
 * and the rows/s at the end on stdout. Exit 0 when done, 1 when it could not run (the reason on
 * stderr); a snapshot stopped half way goes on after its last chunk when run again.
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfigOrReport(() => loadSnapshotConfig(), 'snapshot');
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'snapshot', destination: 'stderr' });
  const db = await openOutboxDatabase(config.outbox, logger);
  try {
    const tables = await capturedTablesOf(db, config.collection);
    const progress = progressReporter(process.stderr);
    for (const table of tables) {
      const result = await snapshotTable(db, table, { chunkSize: config.chunkSize, onProgress: progress.update });
      progress.done();
      process.stdout.write(`${snapshotSummary(result)}\n`);
    }
  } finally {
    await db.close();
  }
}

/** The publisher's outbox database, opened as the publisher opens it. */
async function openOutboxDatabase(outbox: OutboxConfig, logger: Logger): Promise<SqlDatabase> {
  switch (outbox.kind) {
    case 'oracle':
      throw new ConfigError(['snapshots run on PostgreSQL and the embedded outbox; on Oracle they are not built yet']);
    case 'embedded':
      logger.info({ path: outbox.path }, 'outbox: embedded PGlite (the publisher using it must be stopped)');
      return (await openEmbeddedOutbox(outbox, logger)).db;
    case 'postgres':
      logger.info({ url: redactUrl(outbox.databaseUrl) }, 'outbox: PostgreSQL');
      return (await openPostgresOutbox(outbox, logger, { maxConnections: 2 })).db;
  }
}

/** A function of this release's outbox schema is missing: the DBA applies it (OUTBOX_APPLY_SCHEMA=false). */
function explain(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  const message = err instanceof ConfigError ? err.issues.join('; ') : err instanceof Error ? err.message : String(err);
  return code === '42883' || code === '42P01' ? `${message}: apply this release's sql/postgres/001_outbox.sql to the write database first` : message;
}

main().catch((err: unknown) => {
  process.stderr.write(`snapshot failed: ${explain(err)}\n`);
  process.exitCode = 1;
});
