import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { createLogger, redactUrl, type Logger } from '../common/logger.js';
import { openPgSchema } from '../common/pg-test-schema.js';
import { ConfigError } from '../common/errors.js';
import { createKafkaClient } from '../transports/kafka/kafka-client.js';
import { deleteStreams } from '../transports/redis-streams/redis-client.js';
import type { SqlDatabase } from '../common/sql.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { ApplyOutcome, ReadModelStore } from '../consumer/stores/read-model-store.js';
import type { DemoConfig, DemoTransport } from '../demo/config.js';
import { startDemo, type Demo } from '../demo/demo.js';
import { defaultRateLimits, type RateLimitQuota } from '../x-emulator/server.js';
import { loadConfig, type BenchConfig, type BenchStore, type BenchTransport } from './config.js';
import { createPgOutboxListener } from '../publisher/capture/postgres/outbox-listener.js';
import { createPostgresOutbox, lastCapturedRowSql } from '../publisher/capture/postgres/postgres-outbox.js';
import { applyDemoOrdersSchema, applyOutboxSchema } from '../publisher/capture/postgres/schema.js';
import type { Capture } from '../publisher/wiring.js';
import { seededRandom } from '../common/seeded-random.js';
import { fixed, loadBenchConfig, machine, medianBy, print, resultDate, table, updateResults } from './report.js';
import { askAnyBrokerWhenNoBrokerIsTheController, createTopicsOnMock, kcatAvailable, startKafkaMock } from './kafka-mock.js';
import { renderResults, type ResultRow } from './results.js';
import { openPostgresReadModel } from './read-models.js';

const mib = 1024 * 1024;
const host = '127.0.0.1';
const sampleEveryMs = 50;

// ---- measurements ----------------------------------------------------------------------------------

interface MemoryPeak {
  rss: number;
  heapUsed: number;
}

/** Samples process memory every 50 ms into `peak` until the returned function is called (idempotent). */
function sampleMemory(peak: MemoryPeak): () => void {
  const sample = (): void => {
    const { rss, heapUsed } = process.memoryUsage();
    peak.rss = Math.max(peak.rss, rss);
    peak.heapUsed = Math.max(peak.heapUsed, heapUsed);
  };
  sample();
  let timer: NodeJS.Timeout | undefined = setInterval(sample, sampleEveryMs);
  return () => {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
    sample();
  };
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** One committed row change, as the writer saw it. */
interface Commit {
  readonly key: string;
  readonly version: bigint;
  /** performance.now() right after COMMIT returned to the writer. */
  readonly at: number;
}

/** The first time `applyBatch` resolved for an event (whatever its outcome), by event id. */
interface Arrival {
  readonly at: number;
  readonly outcome: ApplyOutcome['status'];
}

/**
 * Latency is measured per event, not per document: the read model keeps only the latest version of
 * each key (and its `applied_at` is taken before the write commits, in whole milliseconds), so most
 * versions leave no trace there. Instead the bench wraps the store's `applyBatch` and notes, for every
 * event id, the moment the call that carried it resolved: the store promises the event is durable
 * then, and it is exactly when the consumer moves on. The writer learns the ids of the events its
 * transaction created by reading them back from the outbox inside that same transaction
 * (`tx_id = pg_current_xact_id()`), so the match is exact even with concurrent writers and several
 * versions of one key in flight.
 */
function recordApplies(store: ReadModelStore, arrivals: Map<string, Arrival>, onApplied: (events: readonly ChangeEvent[], outcomes: readonly ApplyOutcome[]) => void): ReadModelStore {
  return {
    async applyBatch(events) {
      const outcomes = await store.applyBatch(events);
      const at = performance.now();
      events.forEach((event, i) => {
        if (!arrivals.has(event.id)) arrivals.set(event.id, { at, outcome: outcomes[i]?.status ?? 'applied' });
      });
      onApplied(events, outcomes);
      return outcomes;
    },
    get: (collection, key, options) => store.get(collection, key, options),
    find: (collection, filter, options) => store.find(collection, filter, options),
    load: (name) => store.load(name),
    save: (name, position) => store.save(name, position),
    putDeadLetter: (letter) => store.putDeadLetter(letter),
    listDeadLetters: (options) => store.listDeadLetters(options),
    check: () => store.check(),
    close: () => store.close(),
  };
}

/** Counts the messages (posts, or stream entries) the consumer decoded. */
function countMessages(decode: MessageDecoder, counter: { messages: number }): MessageDecoder {
  return (message) => {
    counter.messages += 1;
    return decode(message);
  };
}

// ---- the workload ------------------------------------------------------------------------------------

interface Change {
  readonly key: string;
  readonly status: string;
  readonly customerId: string;
  readonly customerName: string;
  readonly destination: string;
}

const statuses = ['NEW', 'PAID', 'PACKED', 'SHIPPED', 'DELIVERED'] as const;
const cities = ['Oslo', 'Lisbon', 'Nairobi', 'Osaka', 'Lima', 'Tallinn', 'Perth', 'Quebec'] as const;


/**
 * N changes over ceil(N/5) keys, every key touched about five times, in shuffled order: a key's first
 * change inserts the row, the later ones update it, and inserts and updates interleave.
 */
function planChanges(n: number): Change[] {
  const keyCount = Math.max(1, Math.ceil(n / 5));
  const next = seededRandom(0x7b_75_73); // the same changes every run
  const keys = Array.from({ length: n }, (_, i) => i % keyCount);
  for (let i = keys.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    const a = keys[i] ?? 0;
    keys[i] = keys[j] ?? 0;
    keys[j] = a;
  }
  const touches = new Map<number, number>();
  return keys.map((k) => {
    const touch = touches.get(k) ?? 0;
    touches.set(k, touch + 1);
    return {
      key: `b${k}`,
      status: statuses[touch % statuses.length] ?? 'NEW',
      customerId: `c${k % 97}`,
      customerName: `Customer ${k}`,
      destination: cities[k % cities.length] ?? 'Oslo',
    };
  });
}

// An upsert rather than INSERT-then-UPDATE: concurrent writers cannot promise that a key's insert
// commits before its first update. `xmax = 0` tells which one the statement did.
const upsertSql = `
  INSERT INTO dvx_orders (id, status, customer_id, customer_name, shipping_destination, last_updated_timestamp)
  VALUES ($1, $2, $3, $4, $5, now())
  ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, customer_id = EXCLUDED.customer_id,
    customer_name = EXCLUDED.customer_name, shipping_destination = EXCLUDED.shipping_destination,
    last_updated_timestamp = now()
  RETURNING (xmax = 0) AS inserted`;

// The row this transaction's trigger wrote (one change, one row), found through the relay's index
// rather than by reading every unpublished row (which made each commit slower as the outbox grew).
const capturedSql = lastCapturedRowSql('id, aggregateid, version::text AS version');

const upsertedSchema = z.object({ inserted: z.boolean() });
const capturedSchema = z.object({ id: z.string(), aggregateid: z.string(), version: z.string().regex(/^\d+$/) });

interface WriteResult {
  /** Commits by event id. */
  readonly commits: Map<string, Commit>;
  /** The writers' commit rate over the first and the last tenth of the changes: flat when the write side's cost stays flat. */
  readonly commitsPerSecond: { readonly first: number; readonly last: number };
  readonly inserts: number;
  readonly updates: number;
}

async function writeChanges(db: SqlDatabase, plan: readonly Change[], writers: number): Promise<WriteResult> {
  const commits = new Map<string, Commit>();
  let inserts = 0;
  let updates = 0;
  let cursor = 0;

  async function writeOne(change: Change): Promise<void> {
    const written = await db.transaction(async (tx) => {
      const upserted = await tx.query(upsertSql, [change.key, change.status, change.customerId, change.customerName, change.destination]);
      const captured = await tx.query(capturedSql);
      return { inserted: upsertedSchema.parse(upserted.rows[0]).inserted, events: captured.rows.map((row) => capturedSchema.parse(row)) };
    });
    const at = performance.now();
    if (written.events.length !== 1) throw new Error(`a change to ${change.key} captured ${written.events.length} outbox rows, expected 1`);
    if (written.inserted) inserts += 1;
    else updates += 1;
    for (const event of written.events) commits.set(event.id, { key: event.aggregateid, version: BigInt(event.version), at });
  }

  async function writer(): Promise<void> {
    for (;;) {
      const change = plan[cursor];
      cursor += 1;
      if (change === undefined) return;
      await writeOne(change);
    }
  }

  const started = performance.now();
  await Promise.all(Array.from({ length: writers }, writer));
  return { commits, commitsPerSecond: tenthRates(started, [...commits.values()].map((c) => c.at)), inserts, updates };
}

/** Commits per second over the first and the last tenth of the commits. */
function tenthRates(started: number, commitTimes: readonly number[]): { first: number; last: number } {
  const times = [...commitTimes].sort((a, b) => a - b);
  const n = Math.max(1, Math.floor(times.length / 10));
  const rate = (from: number, to: number | undefined) => (to === undefined || to <= from ? Number.NaN : n / ((to - from) / 1000));
  return { first: rate(started, times[n - 1]), last: rate(times[times.length - 1 - n] ?? started, times[times.length - 1]) };
}

// ---- one run -----------------------------------------------------------------------------------------

interface RunResult {
  readonly events: number;
  readonly keys: number;
  readonly inserts: number;
  readonly updates: number;
  readonly eventsPerSecond: number;
  /** First commit to last commit. */
  readonly writeMs: number;
  /** The writers' commits/s in the first and last tenth of the run. */
  readonly commitsPerSecond: { readonly first: number; readonly last: number };
  /** First commit to last apply. */
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Posts the relay made; only over X. */
  readonly posts: number | undefined;
  readonly messagesDecoded: number;
  readonly applied: number;
  readonly skipped: number;
  readonly deadLetters: number;
  readonly peakRssMiB: number;
  readonly peakHeapMiB: number;
  readonly setupMs: number;
}

/** Resolves once `isDone` holds, re-checked whenever `notify` is called; rejects after `timeoutMs`. */
function waitUntil(isDone: () => boolean, timeoutMs: number, describe: () => string): { promise: Promise<void>; notify: () => void } {
  let notify: () => void = () => undefined;
  const promise = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`gave up after ${timeoutMs} ms: ${describe()}`));
    }, timeoutMs);
    notify = () => {
      if (!isDone()) return;
      clearTimeout(timer);
      resolve();
    };
  });
  notify();
  return { promise, notify };
}

/** Polls `check` every 10 ms until it resolves; after `timeoutMs` fails with its last error. */
async function untilResolves(check: () => Promise<void>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: err });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs every step, even after one fails; a failure is logged, since the run's own result matters more. */
async function cleanUp(steps: readonly (() => Promise<void>)[], logger: Logger): Promise<void> {
  for (const step of steps) {
    const [result] = await Promise.allSettled([step()]);
    if (result.status === 'rejected') logger.warn({ err: result.reason }, 'the bench could not clean up after a run');
  }
}

/** The Kafka the bench runs on: KAFKA_BROKERS, or kcat's mock cluster, started for the bench and stopped after it. */
interface BenchKafka {
  readonly brokers: readonly string[];
  readonly mock: boolean;
  stop(): Promise<void>;
}

async function openBenchKafka(transport: Extract<BenchTransport, { kind: 'kafka' }>): Promise<BenchKafka> {
  if (transport.brokers !== undefined) {
    return { brokers: transport.brokers.split(',').map((b) => b.trim()), mock: false, stop: () => Promise.resolve() };
  }
  if (!kcatAvailable()) throw new ConfigError(['--transport kafka needs KAFKA_BROKERS (a Kafka cluster) or kcat (apt-get install -y kcat) for its mock cluster']);
  const mock = await startKafkaMock();
  askAnyBrokerWhenNoBrokerIsTheController();
  return { brokers: mock.brokers.split(','), mock: true, stop: () => mock.stop() };
}

/** The demo's transport for one run: over Redis or Kafka, a stream or topic of this run's own, so runs never share entries. */
function demoTransport(transport: BenchTransport, run: number, kafka: BenchKafka | undefined): DemoTransport {
  if (transport.kind === 'x') return { kind: 'x' };
  if (transport.kind === 'kafka') {
    const topic = `tweetbus.bench.${String(process.pid)}.${String(run)}`;
    const common = {
      kind: 'kafka' as const,
      connection: { brokers: kafka?.brokers ?? [], clientId: 'tweetbus-bench', ssl: false, sasl: undefined },
      topic,
      topicSpec: { partitions: 4, replicationFactor: -1 },
    };
    // The mock answers a fetch only when its wait is over, not when records arrive: wait briefly.
    return { kind: 'kafka', publisher: common, consumer: { ...common, groupId: 'bench', deadLetterTopic: `${topic}.dlq`, fetchMaxWaitMs: kafka?.mock === true ? 50 : 5_000 } };
  }
  const stream = `tweetbus:bench:${process.pid}:${run}`;
  return {
    kind: 'redis-streams',
    publisher: { kind: 'redis-streams', url: transport.url, stream, maxLen: 10_000_000 },
    consumer: { kind: 'redis-streams', url: transport.url, stream, group: 'bench', consumerName: 'bench-1', deadLetterStream: `${stream}:dead`, claimIdleMs: 30_000 },
  };
}

/**
 * The PostgreSQL read model in a new schema of its own. `dispose` closes the store, then ends the pool
 * and drops the schema; the demo leaves a store it was given to its caller.
 */
/**
 * The write database on a PostgreSQL server: a schema of BENCH_DATABASE_URL of its own with
 * `sql/postgres/` applied, a pool with a connection per writer (and some for the relay), and the
 * LISTEN wake-up the publisher uses there.
 */
async function openPostgresWriteDatabase(config: BenchConfig, logger: Logger): Promise<{ db: SqlDatabase; capture: Capture; dispose: () => Promise<void> }> {
  const database = await openPgSchema(config.databaseUrl, { prefix: 'pipeline_write', max: config.writers + 4 });
  try {
    await applyOutboxSchema(database.db);
    await applyDemoOrdersSchema(database.db);
    const listener = createPgOutboxListener(database.pool, { logger });
    await listener.ready;
    const outbox = createPostgresOutbox({ db: database.db }, { logger });
    return {
      db: database.db,
      capture: { outbox, wake: listener.wake },
      dispose: async () => {
        await listener.close();
        await outbox.close();
        await database.dispose();
      },
    };
  } catch (err) {
    await database.dispose();
    throw err;
  }
}


/** How a transport and a store are named in the report, URLs without passwords. */
function describeTransport(transport: BenchTransport, kafka: BenchKafka | undefined): string {
  switch (transport.kind) {
    case 'x':
      return 'x (the emulator, over HTTPS)';
    case 'redis-streams':
      return `redis-streams (${redactUrl(transport.url)}, a stream per run)`;
    case 'kafka':
      return kafka?.mock === true
        ? `kafka on librdkafka's MOCK cluster (kcat, 3 brokers on loopback: not Apache Kafka), a topic per run`
        : `kafka (${kafka?.brokers.join(',') ?? ''}), a topic per run`;
  }
}

/** The name a run's transport gets in bench/results.md: a mock is never passed off as Kafka. */
function transportLabel(transport: BenchTransport, kafka: BenchKafka | undefined): ResultRow['transport'] {
  return transport.kind === 'kafka' && kafka?.mock === true ? 'kafka (mock)' : transport.kind;
}

function describeStore(store: BenchStore): string {
  return store.kind === 'embedded' ? 'embedded (PGlite)' : `postgres (${redactUrl(store.databaseUrl)}, a schema per run)`;
}

/** X's real quota on posting, from the emulator's own table of X's limits. */
function realPostQuota(): RateLimitQuota | undefined {
  return defaultRateLimits.createTweet.find((q) => q.scope === 'user' && q.header === 'x-rate-limit');
}

async function runOnce(config: BenchConfig, run: number, logger: Logger, kafka: BenchKafka | undefined): Promise<RunResult> {
  const setupStarted = performance.now();
  // From before setup to convergence: the peak includes starting the embedded databases.
  const runPeak: MemoryPeak = { rss: 0, heapUsed: 0 };
  const stopSampling = sampleMemory(runPeak);
  const dataDir = await mkdtemp(join(tmpdir(), 'tweetbus-bench-'));

  // Convergence: the latest applied version per key, against the final versions once writing ends.
  const arrivals = new Map<string, Arrival>();
  const latest = new Map<string, bigint>();
  const behind = new Set<string>();
  // Both are set once writing has finished.
  const watch: { finals?: Map<string, bigint>; converged?: { promise: Promise<void>; notify: () => void } } = {};
  const counter = { messages: 0 };
  // Far above N posts, so the quota never interferes (see the note printed at start).
  const quota = Math.max(1_000_000, config.events * 10);

  // Run in this order after the run, whatever happened: the demo first, then what it used.
  const cleanups: (() => Promise<void>)[] = [];
  let demo: Demo | undefined;
  try {
    // The demo's own wiring, on free ports in a throwaway directory, with the bench's probes attached.
    const demoConfig: DemoConfig = {
      dataDir,
      fresh: false,
      host,
      ports: { writeApp: 0, publisher: 0, consumer: 0, xEmulator: 0 },
      logLevel: config.logLevel,
      hashtagPrefix: '',
      stuckAfterMs: { consumer: 60_000, relay: 60_000 },
      transport: demoTransport(config.transport, run, kafka),
    };
    if (demoConfig.transport.kind === 'redis-streams') {
      const { url, stream, deadLetterStream } = demoConfig.transport.consumer;
      // A stream left by an earlier bench of the same pid would be replayed into this run's read model.
      await deleteStreams(url, [stream, deadLetterStream]);
      cleanups.push(() => deleteStreams(url, [stream, deadLetterStream]));
    }
    if (demoConfig.transport.kind === 'kafka' && kafka?.mock === true) {
      // The mock has no CreateTopics: the run's topics are made by an auto-creating metadata request.
      const client = createKafkaClient({ brokers: [...kafka.brokers], clientId: 'tweetbus-bench', logger });
      await createTopicsOnMock(client, [demoConfig.transport.consumer.topic, demoConfig.transport.consumer.deadLetterTopic]);
    }
    let writeDatabase: { db: SqlDatabase; capture: Capture } | undefined;
    if (config.writeDb === 'postgres') {
      const write = await openPostgresWriteDatabase(config, logger);
      cleanups.push(() => write.dispose());
      writeDatabase = write;
    }
    let readModel: ReadModelStore | undefined;
    if (config.store.kind === 'postgres') {
      const postgres = await openPostgresReadModel(config.store.databaseUrl, 'pipeline_bench', logger);
      cleanups.push(() => postgres.dispose());
      readModel = postgres.store;
    }
    demo = await startDemo(
      demoConfig,
      logger,
      {
        emulator: {
          rateLimits: {
            createTweet: [
              { scope: 'user', limit: quota, windowMs: 15 * 60_000, header: 'x-rate-limit' },
              { scope: 'user', limit: quota, windowMs: 24 * 60 * 60_000, header: 'x-user-limit-24hour' },
              { scope: 'app', limit: quota, windowMs: 24 * 60 * 60_000, header: 'x-app-limit-24hour' },
            ],
          },
        },
        decorateStore: (store) =>
          recordApplies(store, arrivals, (events, outcomes) => {
            events.forEach((event, i) => {
              if (outcomes[i]?.status !== 'applied') return;
              const before = latest.get(event.key);
              if (before === undefined || before < event.version) latest.set(event.key, event.version);
              const target = watch.finals?.get(event.key);
              if (target !== undefined && event.version >= target) behind.delete(event.key);
            });
            watch.converged?.notify();
          }),
        decorateDecoder: (decode) => countMessages(decode, counter),
        ...(readModel === undefined ? {} : { store: readModel }),
        ...(writeDatabase === undefined ? {} : { writeDatabase }),
      },
    );
    const { emulator, writeDb, publisher, source, store } = demo;
    await untilResolves(() => source.check(), 30_000, `the ${config.transport.kind} source to connect`);
    const setupMs = performance.now() - setupStarted;

    // ---- the measured part ----
    const plan = planChanges(config.events);
    const written = await writeChanges(writeDb, plan, config.writers);
    const commits = [...written.commits.values()];
    const finals = new Map<string, bigint>();
    for (const c of commits) {
      const before = finals.get(c.key);
      if (before === undefined || before < c.version) finals.set(c.key, c.version);
    }
    watch.finals = finals;
    for (const [key, version] of finals) {
      const seen = latest.get(key);
      if (seen === undefined || seen < version) behind.add(key);
    }
    const converged = waitUntil(
      () => behind.size === 0,
      config.timeoutMs,
      () => `${behind.size} of ${finals.size} keys still behind; ${arrivals.size} of ${commits.length} events applied; relay ${JSON.stringify(publisher.relay.stats())}`,
    );
    watch.converged = converged;
    await converged.promise;
    stopSampling();

    // Cross-check with the read model itself, not only with what the decorator saw (`recordApplies`
    // passes reads straight through).
    const documents = await store.find('orders', {}, { limit: finals.size + 1 });
    const stored = new Map(documents.map((d) => [d.key, d.version]));
    const wrong = [...finals].filter(([key, version]) => stored.get(key) !== version);
    if (wrong.length > 0 || stored.size !== finals.size) {
      throw new Error(`the read model disagrees with the write database for ${wrong.length} keys (${stored.size} documents, ${finals.size} keys)`);
    }

    const firstCommit = Math.min(...commits.map((c) => c.at));
    const lastCommit = Math.max(...commits.map((c) => c.at));
    const latencies: number[] = [];
    let lastApply = firstCommit;
    let applied = 0;
    let skipped = 0;
    for (const [id, commit] of written.commits) {
      const arrival = arrivals.get(id);
      if (arrival === undefined) continue;
      latencies.push(arrival.at - commit.at);
      lastApply = Math.max(lastApply, arrival.at);
      if (arrival.outcome === 'applied') applied += 1;
      else skipped += 1;
    }
    latencies.sort((a, b) => a - b);
    const totalMs = lastApply - firstCommit;
    const posts = emulator?.recentPosts(Number.MAX_SAFE_INTEGER).filter((p) => p.author_id === emulator.credentials.userId).length;
    const deadLetters = (await store.listDeadLetters({ limit: 1000 })).length;

    return {
      events: commits.length,
      keys: finals.size,
      inserts: written.inserts,
      updates: written.updates,
      eventsPerSecond: commits.length / (totalMs / 1000),
      writeMs: lastCommit - firstCommit,
      commitsPerSecond: written.commitsPerSecond,
      totalMs,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? Number.NaN,
      posts,
      messagesDecoded: counter.messages,
      applied,
      skipped,
      deadLetters,
      peakRssMiB: runPeak.rss / mib,
      peakHeapMiB: runPeak.heapUsed / mib,
      setupMs,
    };
  } finally {
    stopSampling();
    const started = demo;
    await cleanUp([...(started === undefined ? [] : [() => started.close()]), ...cleanups.reverse(), () => rm(dataDir, { recursive: true, force: true })], logger);
  }
}

// ---- reporting ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const config = loadBenchConfig(loadConfig);
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'bench', destination: 'stderr' });
  const quota = realPostQuota();
  const realLimit = quota === undefined ? 'a quota' : `${quota.limit} posts / ${quota.windowMs / 60_000} min per user`;

  const overX = config.transport.kind === 'x';
  print(`tweetbus pipeline benchmark: ${config.events} row changes per run, ${config.runs} run(s), ${config.writers} writers`);
  const kafka = config.transport.kind === 'kafka' ? await openBenchKafka(config.transport) : undefined;
  print(`transport: ${describeTransport(config.transport, kafka)}; store: ${describeStore(config.store)}`);
  print(`machine: ${machine()}`);
  if (overX) {
    print(
      `note: the emulator's post quota is raised for this bench. Real X allows ${realLimit}; there the relay\n` +
        `      would wait out the quota (events wait in the outbox). This measures the software, not X's quota.`,
    );
  }
  print('');

  const peak: MemoryPeak = { rss: 0, heapUsed: 0 };
  const results: RunResult[] = [];
  for (let run = 1; run <= config.runs; run += 1) {
    const result = await runOnce(config, run, logger, kafka).catch(async (err: unknown) => {
      await kafka?.stop();
      throw err;
    });
    results.push(result);
    peak.rss = Math.max(peak.rss, result.peakRssMiB * mib);
    peak.heapUsed = Math.max(peak.heapUsed, result.peakHeapMiB * mib);
    print(
      `run ${run}: ${fixed(result.eventsPerSecond)} events/s, p50 ${fixed(result.p50Ms)} ms, p99 ${fixed(result.p99Ms)} ms, ` +
        `${result.posts === undefined ? `${result.messagesDecoded} messages` : `${result.posts} posts`}, peak RSS ${fixed(result.peakRssMiB, 0)} MiB (setup ${fixed(result.setupMs, 0)} ms)`,
    );
  }

  await kafka?.stop();
  const median = medianBy(results, (r) => r.eventsPerSecond);

  print('');
  print(
    table(
      ['run', 'events', 'keys', 'ins/upd', 'events/s', 'write ms', 'commits/s first/last 10%', 'total ms', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'posts', 'ev/post', 'messages', 'stale', 'RSS MiB', 'heap MiB'],
      results.map((r, i) => [
        `${i + 1}${r === median ? '*' : ''}`,
        String(r.events),
        String(r.keys),
        `${r.inserts}/${r.updates}`,
        fixed(r.eventsPerSecond),
        fixed(r.writeMs, 0),
        `${fixed(r.commitsPerSecond.first, 0)} / ${fixed(r.commitsPerSecond.last, 0)} (${fixed((100 * r.commitsPerSecond.last) / r.commitsPerSecond.first, 0)}%)`,
        fixed(r.totalMs, 0),
        fixed(r.p50Ms),
        fixed(r.p90Ms),
        fixed(r.p99Ms),
        fixed(r.maxMs),
        r.posts === undefined ? '-' : String(r.posts),
        r.posts === undefined ? '-' : fixed(r.events / r.posts, 2),
        String(r.messagesDecoded),
        String(r.skipped),
        fixed(r.peakRssMiB, 0),
        fixed(r.peakHeapMiB, 0),
      ]),
    ),
  );
  print('* the median run (by events/s)');
  const { posts } = median;
  print(
    `\nmedian (transport ${transportLabel(config.transport, kafka)}, store ${config.store.kind}): ${fixed(median.eventsPerSecond)} events/s, ` +
      `commit-to-applied p50 ${fixed(median.p50Ms)} ms, p99 ${fixed(median.p99Ms)} ms; ` +
      `peak over all runs: RSS ${fixed(peak.rss / mib, 0)} MiB, heap ${fixed(peak.heapUsed / mib, 0)} MiB; ` +
      (posts === undefined ? '' : `${posts} posts for ${median.events} events (${fixed(median.events / posts, 2)} events per post); `) +
      `${median.messagesDecoded} messages decoded, ${median.deadLetters} dead letters`,
  );
  if (quota !== undefined && posts !== undefined) {
    const waits = Math.ceil(posts / quota.limit) - 1;
    print(
      waits === 0
        ? `on real X these ${posts} posts fit in one quota window (${realLimit}).`
        : `on real X these ${posts} posts would wait out the quota ${waits} time(s): at least ${waits * (quota.windowMs / 60_000)} min ` +
            `(${realLimit}), whatever the software does.`,
    );
  }

  if (config.dryRun) {
    print('\n--dry-run: bench/results.md left unchanged');
    return;
  }
  const row: ResultRow = {
    date: resultDate(),
    machine: machine(),
    transport: transportLabel(config.transport, kafka),
    store: config.store.kind,
    events: config.events,
    runs: config.runs,
    eventsPerSecond: median.eventsPerSecond,
    p50Ms: median.p50Ms,
    p99Ms: median.p99Ms,
    peakRssMiB: peak.rss / mib,
    posts,
  };
  const path = await updateResults((existing) => renderResults(existing, row));
  print(`\nresults appended to ${path}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
