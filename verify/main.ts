import { config as loadDotenv } from 'dotenv';
import { createLogger } from '../common/logger.js';
import { loadConfigOrReport } from '../common/process.js';
import { createScope } from '../common/scope.js';
import { openReadModelStore } from '../consumer/stores/open-store.js';
import { tableSideOf } from '../publisher/capture/postgres/table-inventory.js';
import { explainOutboxFailure, openOutboxDatabase } from '../publisher/outbox-database.js';
import { loadVerifyConfig } from './config.js';
import { findDrift } from './drift.js';
import { healDrift } from './heal.js';
import { formatDriftReport, formatHealOutcome } from './report.js';

/**
 * `npm run verify -- --collection orders [--heal]`: compares a captured table with the read model
 * (verify/drift.ts) and prints the drift. Exit 0 when the read model equals the table, 1 when keys
 * drift or it could not run (the reason on stderr). With `--heal` it sends the drifting keys again,
 * then verifies until they reach the read model (`--wait`), and exits 0 only when they did.
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfigOrReport(() => loadVerifyConfig(), 'verify');
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'verify', destination: 'stderr' });
  const scope = createScope(logger);
  try {
    const db = await openOutboxDatabase(config.outbox, logger, 'verify and heal');
    scope.defer(() => db.close());
    const store = await openReadModelStore(config.store, logger, scope);
    scope.defer(() => store.close());
    const { table, inventory, owner, resend } = await tableSideOf(db, config.collection);
    const readModel = store.inventory(config.collection);
    const report = await findDrift(inventory, readModel, { settleMs: config.settleMs, owner });
    process.stdout.write(formatDriftReport(table, report));
    if (report.drift.length === 0) return;
    process.exitCode = 1;
    if (!config.heal) return;
    const healed = await healDrift(report.drift, resend, { now: new Date(), maxAheadMs: config.maxVersionAheadMs });
    process.stdout.write(formatHealOutcome(healed));
    if (config.outbox.kind === 'embedded') {
      process.stdout.write('the healed keys wait in the embedded outbox: start the publisher and the consumer, then verify again\n');
      return;
    }
    const after = await findDrift(inventory, readModel, { settleMs: config.waitMs, owner });
    process.stdout.write(formatDriftReport(table, after));
    process.exitCode = after.drift.length === 0 ? 0 : 1;
  } finally {
    await scope.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`verify failed: ${explainOutboxFailure(err)}\n`);
  process.exitCode = 1;
});
