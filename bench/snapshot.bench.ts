import { z } from 'zod';
import { createLogger, type Logger } from '../common/logger.js';
import { capturedTablesOf, snapshotTable } from '../publisher/capture/postgres/snapshot.js';
import { defaultSnapshotChunkSize } from '../publisher/capture/snapshot.js';
import { loadSnapshotBenchConfig, type SnapshotBenchConfig } from './config.js';
import { openBenchReadModel, openBenchWriteDatabase } from './databases.js';
import { fixed, loadBenchConfig, machine, medianBy, print, resultDate, table, updateResults } from './report.js';
import { renderSnapshotResults, type VerifyTiming } from './results.js';
import type { SqlDatabase } from '../common/sql.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';
import type { ChangeEvent } from '../events/envelope.js';
import { createPostgresOutbox } from '../publisher/capture/postgres/postgres-outbox.js';
import { tableSideOf } from '../publisher/capture/postgres/table-inventory.js';
import { findDrift } from '../verify/drift.js';

/**
 * A snapshot of a table that held N rows before its capture trigger: how many rows a second
 * `snapshotTable` enqueues (each chunk reading its rows FOR SHARE, versioning them and recording its
 * progress in one transaction). Filling the table is not measured.
 *
 * Then verify (`npm run verify`'s `findDrift`): the outbox is relayed into a read model of the same
 * kind, and the comparison is timed with 0, 10 and 1,000 keys made to drift.
 */

const countsSchema = z.object({ total: z.coerce.number(), keys: z.coerce.number() });

// Rows shaped like the demo's orders, so each image is as large as a real one.
const fillSql = (rows: number): string => `
  CREATE TABLE bench_items (
    id text PRIMARY KEY, status text, customer_id text, customer_name text, shipping_destination text,
    last_updated_timestamp timestamptz(0) DEFAULT date_trunc('second', now()));
  INSERT INTO bench_items (id, status, customer_id, customer_name, shipping_destination)
  SELECT 'item-' || g, (ARRAY['NEW', 'PAID', 'SHIPPED'])[1 + g % 3], 'c' || g % 97, 'Customer ' || g,
         (ARRAY['Oslo', 'Lisbon', 'Nairobi', 'Osaka'])[1 + g % 4]
    FROM generate_series(1, ${String(rows)}) g;
  CREATE TRIGGER bench_items_capture AFTER INSERT OR UPDATE OR DELETE ON bench_items
    FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('items', 'id');`;

/** The drifting keys each verify is timed with. */
const driftCounts = [0, 10, 1_000] as const;

interface RunResult {
  readonly rowsPerSecond: number;
  readonly buckets: number;
  readonly timings: readonly VerifyTiming[];
}

/** Everything in the outbox, applied to `store` in the relay's order. */
async function relayAll(db: SqlDatabase, store: ReadModelStore, logger: Logger): Promise<void> {
  const outbox = createPostgresOutbox({ db }, { logger });
  for (let rows = await outbox.readBatch(5_000); rows.length > 0; rows = await outbox.readBatch(5_000)) {
    await store.applyBatch(rows.map((r) => r.event));
    await outbox.markPublished(rows);
  }
}

/** Times findDrift with 0, 10 and 1,000 drifting keys: each added one is a document deleted through the store. */
async function timeVerify(db: SqlDatabase, store: ReadModelStore, rows: number): Promise<{ buckets: number; timings: VerifyTiming[] }> {
  const { inventory: table, owner } = await tableSideOf(db, 'items');
  const readModel = store.inventory('items');
  const timings: VerifyTiming[] = [];
  let buckets = 0;
  let drifting = 0;
  for (const drift of driftCounts.filter((n) => n <= rows)) {
    // Spread over the table by a prime stride, each new key one that does not drift yet.
    const keys = Array.from({ length: drift - drifting }, (_, i) => `item-${String(1 + (((drifting + i) * 7_919) % rows))}`);
    await store.applyBatch(keys.map(deleteAbove));
    drifting = drift;
    const report = await findDrift(table, readModel, { settleMs: 0, owner });
    if (report.drift.length !== drift) throw new Error(`verify found ${String(report.drift.length)} drifting keys for ${String(drift)}`);
    buckets = report.buckets;
    timings.push({ drift, ms: report.ms, keysListed: report.keysListed, differingBuckets: report.differingBuckets });
  }
  return { buckets, timings };
}

/** A delete above every version the snapshot gave: the table keeps the row, the read model loses it. */
function deleteAbove(key: string): ChangeEvent {
  return { id: `bench-drift-${key}`, source: 'bench', type: 'items.deleted', collection: 'items', key, version: 1n << 62n, op: 'delete', data: null, createdAt: new Date().toISOString() };
}

async function runOnce(config: SnapshotBenchConfig, logger: Logger): Promise<RunResult> {
  const write = await openBenchWriteDatabase(config.writeDb, { databaseUrl: config.databaseUrl, writers: 1 }, logger);
  try {
    await write.db.exec(fillSql(config.rows));
    const [items] = await capturedTablesOf(write.db, 'items');
    if (items === undefined) throw new Error('bench_items is not captured');
    const result = await snapshotTable(write.db, items);
    const counted = await write.db.query(`SELECT count(*) AS total, count(DISTINCT aggregateid) AS keys FROM tweetbus_outbox WHERE aggregatetype = 'items' AND op = 'upsert'`);
    const counts = countsSchema.parse(counted.rows[0]);
    if (counts.total !== config.rows || counts.keys !== config.rows || result.enqueued !== config.rows) {
      throw new Error(`the snapshot enqueued ${String(result.enqueued)} rows (${String(counts.total)} in the outbox, ${String(counts.keys)} keys) for ${String(config.rows)}`);
    }
    const readModel = await openBenchReadModel(config.writeDb === 'postgres' ? { kind: 'postgres', databaseUrl: config.databaseUrl } : { kind: 'embedded' }, 'bench_verify', logger);
    try {
      await relayAll(write.db, readModel.store, logger);
      const verify = await timeVerify(write.db, readModel.store, config.rows);
      return { rowsPerSecond: config.rows / (result.ms / 1000), ...verify };
    } finally {
      await readModel.dispose();
    }
  } finally {
    await write.dispose();
  }
}

async function main(): Promise<void> {
  const config = loadBenchConfig(loadSnapshotBenchConfig);
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'bench', destination: 'stderr' });
  print(`tweetbus snapshot benchmark: a table of ${String(config.rows)} rows, ${config.writeDb} write database, chunks of ${String(defaultSnapshotChunkSize)}, ${String(config.runs)} run(s)`);
  print(`machine: ${machine()}\n`);
  const rates: number[] = [];
  const verifies: RunResult[] = [];
  for (let run = 1; run <= config.runs; run += 1) {
    const result = await runOnce(config, logger);
    rates.push(result.rowsPerSecond);
    verifies.push(result);
    const timings = result.timings.map((t) => `${String(t.drift)} drifting ${fixed(t.ms, 0)} ms (${String(t.keysListed)} keys listed)`).join(', ');
    print(`run ${String(run)}: ${fixed(result.rowsPerSecond, 0)} rows/s; verify of ${String(result.buckets)} buckets: ${timings}`);
  }
  const median = medianBy(rates, (r) => r);
  print('');
  print(table(['run', 'rows/s'], rates.map((r, i) => [`${String(i + 1)}${r === median ? '*' : ''}`, fixed(r, 0)])));
  print(`\nmedian: ${fixed(median, 0)} rows/s (slowest ${fixed(Math.min(...rates), 0)}, fastest ${fixed(Math.max(...rates), 0)})`);
  const timings = (verifies[0]?.timings ?? []).map((first, i) => {
    const runs = verifies.map((v) => v.timings[i] ?? first);
    return { ...medianBy(runs, (t) => t.ms), drift: first.drift };
  });
  print(`verify, median: ${timings.map((t) => `${String(t.drift)} drifting ${fixed(t.ms, 0)} ms`).join(', ')}`);
  if (config.dryRun) {
    print('\n--dry-run: bench/results.md left unchanged');
    return;
  }
  const path = await updateResults((existing) =>
    renderSnapshotResults(existing, {
      date: resultDate(),
      machine: machine(),
      writeDb: config.writeDb,
      rows: config.rows,
      runs: config.runs,
      chunkSize: defaultSnapshotChunkSize,
      rowsPerSecond: median,
      slowestRowsPerSecond: Math.min(...rates),
      fastestRowsPerSecond: Math.max(...rates),
    }, {
      date: resultDate(),
      machine: machine(),
      writeDb: config.writeDb,
      rows: config.rows,
      runs: config.runs,
      buckets: verifies[0]?.buckets ?? 0,
      timings,
    }),
  );
  print(`\nresults added to ${path}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
