import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { createLogger, redactUrl, type Logger } from '../common/logger.js';
import { openPgSchema, pgAdminQuery } from '../common/pg-test-schema.js';
import type { SqlDatabase } from '../common/sql.js';
import type { OutboxReader } from '../publisher/capture/outbox.js';
import { createPostgresOutbox } from '../publisher/capture/postgres/postgres-outbox.js';
import { applyDemoOrdersSchema } from '../publisher/capture/postgres/schema.js';
import { createOutboxRelay, type OutboxRelay } from '../publisher/relay.js';
import { createInMemoryBus } from '../transports/in-memory/in-memory-bus.js';
import type { EventPublisher } from '../transports/transport.js';
import { loadRelayConfig, relayBatchLabel, type RelayBatch, type RelayBenchConfig } from './config.js';
import { fixed, loadBenchConfig, machine, medianBy, print, resultDate, table, updateResults } from './report.js';
import { renderRelayResults, type RelayResultRow } from './results.js';
import { fillBacklog } from './workload.js';

/** The publisher's default; the backlog is there before the relay starts, so it hardly matters. */
const pollIntervalMs = 500;

// ---- measurements ----------------------------------------------------------------------------------

/** Durations (ms) of each call of one step, in call order. */
type StepTimes = number[];

interface Steps {
  readonly read: StepTimes;
  readonly publish: StepTimes;
  readonly mark: StepTimes;
}

const mean = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length);

/** Times `fn` into `into`, unless the run is already over (the relay's idle polls are not the backlog's). */
async function timed<T>(into: StepTimes, isOver: () => boolean, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  if (!isOver()) into.push(performance.now() - started);
  return result;
}

/**
 * The outbox as the relay sees it, with each call timed, and the moment the mark that completes the
 * backlog resolved noted: that is when the outbox has no unpublished row left (the events reached the
 * bus before their rows were marked).
 */
function observedReader(reader: OutboxReader, steps: Steps, backlog: number, onDrained: (at: number) => void): OutboxReader {
  let marked = 0;
  let drainedAt: number | undefined;
  const isOver = (): boolean => drainedAt !== undefined;
  return {
    readBatch: (limit) => timed(steps.read, isOver, () => reader.readBatch(limit)),
    republishSince: (since) => reader.republishSince(since),
    async markPublished(rows) {
      await timed(steps.mark, isOver, () => reader.markPublished(rows));
      marked += rows.length;
      if (drainedAt === undefined && marked >= backlog) {
        drainedAt = performance.now();
        onDrained(drainedAt);
      }
    },
    markFailed: (failures) => reader.markFailed(failures),
  };
}

/** The bus's publisher, timed, noting every event id it acknowledged. */
function observedPublisher(publisher: EventPublisher, steps: Steps, ids: Set<string>): EventPublisher {
  return {
    async publish(events) {
      await timed(steps.publish, () => false, () => publisher.publish(events));
      for (const event of events) ids.add(event.id);
    },
    close: () => publisher.close(),
  };
}

// ---- the database ------------------------------------------------------------------------------------

const countsSchema = z.object({ total: z.coerce.number(), unpublished: z.coerce.number(), failed: z.coerce.number() });

async function outboxCounts(db: SqlDatabase): Promise<z.infer<typeof countsSchema>> {
  const result = await db.query(
    `SELECT count(*) AS total,
            count(*) FILTER (WHERE published_at IS NULL) AS unpublished,
            count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
       FROM tweetbus_outbox`,
  );
  return countsSchema.parse(result.rows[0]);
}

const idSchema = z.object({ id: z.string() });

async function outboxIds(db: SqlDatabase): Promise<string[]> {
  const result = await db.query('SELECT id FROM tweetbus_outbox');
  return result.rows.map((row) => idSchema.parse(row).id);
}

const versionSchema = z.object({ server_version: z.string() });

/** `15.20` from `15.20 (Debian 15.20-0+deb12u1)`. */
async function serverVersion(databaseUrl: string): Promise<string> {
  const result = await pgAdminQuery(databaseUrl, 'SHOW server_version');
  return versionSchema.parse(result.rows[0]).server_version.split(' ')[0] ?? 'unknown';
}

// ---- one run -----------------------------------------------------------------------------------------

interface RunResult {
  readonly events: number;
  readonly batches: number;
  readonly totalMs: number;
  readonly eventsPerSecond: number;
  readonly fillMs: number;
  readonly readMs: number;
  readonly publishMs: number;
  readonly markMs: number;
  /** Mean readBatch time over the first and the last tenth of the batches: does reading slow down as the backlog drains? */
  readonly readFirstTenthMs: number;
  readonly readLastTenthMs: number;
  /** The machine's 1-minute load average when the backlog had drained: other work on it slows the run. */
  readonly load: number;
}

function tenths(values: readonly number[]): { first: number; last: number } {
  const n = Math.max(1, Math.floor(values.length / 10));
  return { first: mean(values.slice(0, n)), last: mean(values.slice(-n)) };
}

async function runOnce(config: RelayBenchConfig, batch: RelayBatch, logger: Logger): Promise<RunResult> {
  const database = await openPgSchema(config.databaseUrl, { prefix: 'relay_bench', max: 2 });
  const { db } = database;
  let relay: OutboxRelay | undefined;
  try {
    await applyDemoOrdersSchema(db);
    const fillStarted = performance.now();
    await fillBacklog(db, config.rows);
    const fillMs = performance.now() - fillStarted;
    const before = await outboxCounts(db);
    if (before.unpublished !== config.rows) throw new Error(`the trigger wrote ${before.unpublished} outbox rows for ${config.rows} changes`);

    const bus = createInMemoryBus();
    const published = new Set<string>();
    const steps: Steps = { read: [], publish: [], mark: [] };
    let drainedAt = Number.NaN;
    let drained: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      drained = resolve;
    });
    const reader = observedReader(createPostgresOutbox({ db }, { logger }), steps, config.rows, (at) => {
      drainedAt = at;
      drained();
    });
    relay = createOutboxRelay({
      reader,
      publisher: observedPublisher(bus.publisher(), steps, published),
      logger,
      ...batch,
      pollIntervalMs,
    });

    // ---- the measured part ----
    const started = performance.now();
    relay.start();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`gave up after ${config.timeoutMs} ms: relay ${JSON.stringify(relay?.stats())}, ${bus.length} events on the bus`));
      }, config.timeoutMs);
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
    const totalMs = drainedAt - started;
    const load = loadavg()[0] ?? Number.NaN;
    await relay.stop();

    const after = await outboxCounts(db);
    if (after.unpublished !== 0 || after.failed !== 0 || after.total !== config.rows) {
      throw new Error(`the outbox is not drained: ${JSON.stringify(after)}`);
    }
    const ids = await outboxIds(db);
    const missing = ids.filter((id) => !published.has(id)).length;
    if (missing > 0 || published.size !== ids.length || bus.length !== ids.length) {
      throw new Error(`the bus disagrees with the outbox: ${missing} events missing, ${published.size} distinct events published, ${bus.length} on the bus, ${ids.length} rows`);
    }

    const read = tenths(steps.read);
    return {
      events: config.rows,
      batches: steps.mark.length,
      totalMs,
      eventsPerSecond: config.rows / (totalMs / 1000),
      fillMs,
      readMs: mean(steps.read),
      publishMs: mean(steps.publish),
      markMs: mean(steps.mark),
      readFirstTenthMs: read.first,
      readLastTenthMs: read.last,
      load,
    };
  } finally {
    await relay?.stop();
    await database.dispose();
  }
}

// ---- reporting ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const config = loadBenchConfig(loadRelayConfig);
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'bench', destination: 'stderr' });
  const postgres = await serverVersion(config.databaseUrl);

  print(
    `tweetbus relay benchmark: a backlog of ${config.rows} outbox rows, ${config.runs} run(s) per batch size, ` +
      `batch sizes ${config.batchSizes.map(relayBatchLabel).join(', ')}`,
  );
  print(`machine: ${machine()}`);
  print(`PostgreSQL ${postgres} at ${redactUrl(config.databaseUrl)}\n`);

  const rows: Omit<RelayResultRow, 'date'>[] = [];
  const lines: string[][] = [];
  for (const batch of config.batchSizes) {
    const batchSize = relayBatchLabel(batch);
    const results: RunResult[] = [];
    for (let run = 1; run <= config.runs; run += 1) {
      const result = await runOnce(config, batch, logger);
      results.push(result);
      print(
        `batch ${batchSize}, run ${run}: ${fixed(result.eventsPerSecond, 0)} events/s (${fixed(result.totalMs, 0)} ms); ` +
          `per batch: read ${fixed(result.readMs, 2)} ms, publish ${fixed(result.publishMs, 2)} ms, mark ${fixed(result.markMs, 2)} ms ` +
          `(backlog written in ${fixed(result.fillMs, 0)} ms)`,
      );
    }
    const median = medianBy(results, (r) => r.eventsPerSecond);
    const rates = results.map((r) => r.eventsPerSecond);
    rows.push({
      machine: machine(),
      postgres,
      rows: config.rows,
      batchSize,
      runs: config.runs,
      eventsPerSecond: median.eventsPerSecond,
      slowestEventsPerSecond: Math.min(...rates),
      fastestEventsPerSecond: Math.max(...rates),
      readMsPerBatch: median.readMs,
      publishMsPerBatch: median.publishMs,
      markMsPerBatch: median.markMs,
    });
    results.forEach((r, i) => {
      lines.push([
        batchSize,
        `${i + 1}${r === median ? '*' : ''}`,
        String(r.events),
        String(r.batches),
        fixed(r.eventsPerSecond, 0),
        fixed(r.totalMs, 0),
        fixed(r.readMs, 2),
        `${fixed(r.readFirstTenthMs, 2)} / ${fixed(r.readLastTenthMs, 2)}`,
        fixed(r.publishMs, 2),
        fixed(r.markMs, 2),
        fixed(r.fillMs, 0),
        fixed(r.load, 2),
      ]);
    });
  }

  print('');
  print(
    table(
      ['batch', 'run', 'events', 'batches', 'events/s', 'total ms', 'read ms', 'read first/last 10%', 'publish ms', 'mark ms', 'fill ms', 'load'],
      lines,
    ),
  );
  print('* the median run of its batch size (by events/s); read, publish and mark are mean ms per batch;');
  print('  load is the 1-minute load average at the end of the run (other work on the machine slows it)');
  print('');
  for (const row of rows) {
    print(
      `batch ${row.batchSize}: median ${fixed(row.eventsPerSecond, 0)} events/s ` +
        `(slowest ${fixed(row.slowestEventsPerSecond, 0)}, fastest ${fixed(row.fastestEventsPerSecond, 0)})`,
    );
  }

  if (config.dryRun) {
    print('\n--dry-run: bench/results.md left unchanged');
    return;
  }
  // One date for every row of this invocation: when it finished, as the pipeline bench does.
  const date = resultDate();
  const path = await updateResults((existing) => renderRelayResults(existing, rows.map((row) => ({ ...row, date }))));
  print(`\nresults added to ${path}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
