import { config as loadDotenv } from 'dotenv';
import { createLogger } from '../common/logger.js';
import { loadConfigOrReport } from '../common/process.js';
import { runSnapshot, tablesOf } from './capture/snapshot.js';
import { explainOutboxFailure, openSnapshotTarget } from './outbox-database.js';
import { loadSnapshotConfig } from './snapshot-config.js';
import { progressReporter, snapshotSummary } from './snapshot-progress.js';

/**
 * `npm run snapshot -- --collection orders`: enqueues the current image of every row of the tables
 * captured into a collection (publisher/capture/snapshot.ts; PostgreSQL, PGlite or Oracle), with a progress bar on stderr
 * and the rows/s at the end on stdout. Exit 0 when done, 1 when it could not run (the reason on
 * stderr); a snapshot stopped half way goes on after its last chunk when run again.
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfigOrReport(() => loadSnapshotConfig(), 'snapshot');
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'snapshot', destination: 'stderr' });
  const { target, close } = await openSnapshotTarget(config.outbox, logger);
  try {
    const tables = tablesOf(await target.tables(), config.collection);
    const progress = progressReporter(process.stderr);
    for (const table of tables) {
      const result = await runSnapshot(target.store, table, { chunkSize: config.chunkSize, onProgress: progress.update });
      progress.done();
      process.stdout.write(`${snapshotSummary(result)}\n`);
    }
  } finally {
    await close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`snapshot failed: ${explainOutboxFailure(err)}\n`);
  process.exitCode = 1;
});
