import { z } from 'zod';
import { createLogger, type Logger } from '../common/logger.js';
import { capturedTablesOf, defaultSnapshotChunkSize, snapshotTable } from '../publisher/capture/postgres/snapshot.js';
import { loadSnapshotBenchConfig, type SnapshotBenchConfig } from './config.js';
import { openBenchWriteDatabase } from './databases.js';
import { fixed, loadBenchConfig, machine, medianBy, print, resultDate, table, updateResults } from './report.js';
import { renderSnapshotResults } from './results.js';

/**
 * A snapshot of a table that held N rows before its capture trigger: how many rows a second
 * `snapshotTable` enqueues (each chunk reading its rows FOR SHARE, versioning them and recording its
 * progress in one transaction). Filling the table is not measured.
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

async function runOnce(config: SnapshotBenchConfig, logger: Logger): Promise<number> {
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
    return config.rows / (result.ms / 1000);
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
  for (let run = 1; run <= config.runs; run += 1) {
    const rate = await runOnce(config, logger);
    rates.push(rate);
    print(`run ${String(run)}: ${fixed(rate, 0)} rows/s`);
  }
  const median = medianBy(rates, (r) => r);
  print('');
  print(table(['run', 'rows/s'], rates.map((r, i) => [`${String(i + 1)}${r === median ? '*' : ''}`, fixed(r, 0)])));
  print(`\nmedian: ${fixed(median, 0)} rows/s (slowest ${fixed(Math.min(...rates), 0)}, fastest ${fixed(Math.max(...rates), 0)})`);
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
    }),
  );
  print(`\nresults added to ${path}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
