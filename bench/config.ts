import { z } from 'zod';
import { createEnvReader, wholeNumber, type Env, type EnvReader } from '../common/config/env-reader.js';
import { readChoice, readLevel, readPgliteOptimize, readUrl } from '../common/config/readers.js';
import { finish, readCommandLine } from '../common/config/command-line.js';
import type { LogLevel } from '../common/logger.js';
import { pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { defaultRelayBatch, maxRelayBatchSize } from '../publisher/relay.js';
import { defaultRedisUrl } from '../transports/config.js';

export type BenchLogLevel = LogLevel;

export const benchTransportKinds = ['x', 'redis-streams', 'kafka'] as const;
export const benchStoreKinds = ['embedded', 'postgres'] as const;
export const benchWriteDbKinds = ['embedded', 'postgres'] as const;
export type BenchWriteDb = (typeof benchWriteDbKinds)[number];

/** What carries the events from the relay to the consumer: the in-process X emulator, or a Redis the user runs. */
export type BenchTransport =
  | { readonly kind: 'x' }
  | { readonly kind: 'redis-streams'; readonly url: string }
  /** `brokers` from KAFKA_BROKERS; without it, the bench runs kcat's mock cluster and says so. */
  | { readonly kind: 'kafka'; readonly brokers: string | undefined };

/** The consumer's read model: embedded (PGlite), or a PostgreSQL server, in a throwaway schema per run. */
export type BenchStore = { readonly kind: 'embedded' } | { readonly kind: 'postgres'; readonly databaseUrl: string };

/**
 * The pipeline benchmark's settings. Command-line values win over the environment:
 * `node dist/bench/pipeline.bench.js [N] [--events N] [--runs R] [--writers W] [--pace P] [--transport x|redis-streams|kafka] [--store embedded|postgres] [--write-db embedded|postgres] [--dry-run]`.
 */
export interface BenchConfig {
  readonly transport: BenchTransport;
  readonly store: BenchStore;
  /** The write database the writers commit to: the demo's embedded one, or a PostgreSQL schema of BENCH_DATABASE_URL. */
  readonly writeDb: BenchWriteDb;
  /** BENCH_DATABASE_URL: the server of the PostgreSQL store and write database. */
  readonly databaseUrl: string;
  /** Row changes written to `dvx_orders` per run. */
  readonly events: number;
  /** Runs; the median one (by events per second) is reported. */
  readonly runs: number;
  /** Concurrent writers issuing the row changes. */
  readonly writers: number;
  /** Changes a second the writers keep to (BENCH_PACE, --pace); unset: as fast as they can. */
  readonly pace: number | undefined;
  /** Gives up on a run whose read model has not caught up after this long. */
  readonly timeoutMs: number;
  /** Services' log lines go to stderr at this level. */
  readonly logLevel: BenchLogLevel;
  /** PGLITE_OPTIMIZE, as the services read it (common/pglite.ts). */
  readonly pgliteOptimize: boolean;
  /** Print only; leave `bench/results.md` alone. */
  readonly dryRun: boolean;
}

/**
 * The relay benchmark's settings. Command-line values win over the environment:
 * `node dist/bench/relay.bench.js [N] [--rows N] [--runs R] [--batch-sizes default,20,500,20-1000] [--dry-run]`.
 */
export interface RelayBenchConfig {
  /** Outbox rows in the backlog the relay drains in each run. */
  readonly rows: number;
  /** Runs per batch size; the median one (by events per second) is reported. */
  readonly runs: number;
  /** Each batch setting is measured separately and gets its own result row. */
  readonly batchSizes: readonly RelayBatch[];
  /** The PostgreSQL server; each run works in its own schema and drops it after. */
  readonly databaseUrl: string;
  /** Gives up on a run whose backlog has not drained after this long. */
  readonly timeoutMs: number;
  /** The relay's log lines go to stderr at this level. */
  readonly logLevel: BenchLogLevel;
  /** PGLITE_OPTIMIZE, as the services read it (common/pglite.ts). */
  readonly pgliteOptimize: boolean;
  /** Print only; leave `bench/results.md` alone. */
  readonly dryRun: boolean;
}

/**
 * The relay's batch in one measurement: fixed (`500`: both the same), growing under the backlog
 * (`20-1000`), or the publisher's defaults (`default`).
 */
export interface RelayBatch {
  readonly batchSize: number;
  readonly maxBatchSize: number;
}

/** How a batch setting is written in results and on the command line: `500`, or `20-1000`. */
export function relayBatchLabel({ batchSize, maxBatchSize }: RelayBatch): string {
  return batchSize === maxBatchSize ? String(batchSize) : `${String(batchSize)}-${String(maxBatchSize)}`;
}

const maxEvents = 1_000_000;
const maxRuns = 99;
const maxWriters = 64;

/** A whole number from 1 to `max`: `what` says what it counts. */
function readWhole(reader: EnvReader, name: string, max: number, fallback: number, what: string): number {
  return reader.read(name, wholeNumber(1, max), fallback, `a whole number from 1 to ${String(max)} (${what})`);
}

/** Changes a second, at most 100,000; unset means as fast as the writers can. */
function readPace(reader: EnvReader, name: string, fallback: number | undefined): number | undefined {
  return reader.read<number | undefined>(name, wholeNumber(1, 100_000), fallback, 'a whole number of changes a second from 1 to 100000');
}

/** Comma-separated batch settings (`default`, `500`, `20-1000`), each once, in the order given. */
function readBatchSizes(reader: EnvReader, name: string, fallback: readonly RelayBatch[]): readonly RelayBatch[] {
  const size = z.number().int().min(1).max(maxRelayBatchSize);
  const setting = z.union([
    z.literal('default').transform((): RelayBatch => defaultRelayBatch),
    z.string().regex(/^\d+$/).transform(Number).pipe(size).transform((n): RelayBatch => ({ batchSize: n, maxBatchSize: n })),
    z
      .string()
      .regex(/^\d+-\d+$/)
      .transform((text) => text.split('-').map(Number))
      .pipe(z.tuple([size, size]))
      .refine(([from, to]) => from <= to)
      .transform(([from, to]): RelayBatch => ({ batchSize: from, maxBatchSize: to })),
  ]);
  const list = z
    .string()
    .transform((text) => text.split(',').map((item) => item.trim()))
    .pipe(z.array(setting).min(1))
    .transform((settings) => [...new Map(settings.map((b) => [relayBatchLabel(b), b])).values()]);
  return reader.read(name, list, fallback, `comma-separated batch settings: default (the publisher's), a fixed size, or a growing range like 20-1000, sizes from 1 to ${String(maxRelayBatchSize)}`);
}

/** Settings every benchmark reads the same way. */
function readShared(env: EnvReader, timeoutFallbackMs: number): { databaseUrl: string; timeoutMs: number; logLevel: LogLevel; pgliteOptimize: boolean } {
  return {
    databaseUrl: readUrl(env, 'BENCH_DATABASE_URL', ['postgres:', 'postgresql:'], 'a postgres:// URL') ?? pgTestDatabaseUrl,
    timeoutMs: readWhole(env, 'BENCH_TIMEOUT_MS', 24 * 60 * 60 * 1000, timeoutFallbackMs, 'milliseconds a run may take'),
    logLevel: readLevel(env, 'BENCH_LOG_LEVEL', 'warn'),
    // As the services read it, so the embedded databases run as theirs do.
    pgliteOptimize: readPgliteOptimize(env),
  };
}

export function loadConfig(variables: Env = process.env, argv: readonly string[] = process.argv.slice(2)): BenchConfig {
  const { args, dryRun } = readCommandLine(
    argv,
    ['events', 'runs', 'writers', 'pace', 'transport', 'store', 'write-db'],
    'events',
    'pipeline.bench.js [N] [--events N] [--runs R] [--writers W] [--pace P] [--transport x|redis-streams|kafka] [--store embedded|postgres] [--write-db embedded|postgres] [--dry-run]',
  );
  const env = createEnvReader(variables);
  const shared = readShared(env, 300_000);
  const transport = readChoice(args, '--transport', benchTransportKinds, readChoice(env, 'BENCH_TRANSPORT', benchTransportKinds, 'x'));
  const store = readChoice(args, '--store', benchStoreKinds, readChoice(env, 'BENCH_STORE', benchStoreKinds, 'embedded'));
  const writeDb = readChoice(args, '--write-db', benchWriteDbKinds, readChoice(env, 'BENCH_WRITE_DB', benchWriteDbKinds, 'embedded'));
  // The services' own variables, so the bench finds the same Redis and Kafka they use.
  const redisUrl = readUrl(env, 'REDIS_URL', ['redis:', 'rediss:'], 'a redis:// or rediss:// URL') ?? defaultRedisUrl;
  const kafkaBrokers = env.value('KAFKA_BROKERS');
  const events = readWhole(env, 'BENCH_EVENTS', maxEvents, 500, 'row changes per run');
  const runs = readWhole(env, 'BENCH_RUNS', maxRuns, 3, 'runs; the median is reported');
  const writers = readWhole(env, 'BENCH_WRITERS', maxWriters, 4, 'concurrent writers');
  const pace = readPace(env, 'BENCH_PACE', undefined);
  return finish(env, args, {
    transport: transport === 'x' ? { kind: 'x' } : transport === 'kafka' ? { kind: 'kafka', brokers: kafkaBrokers } : { kind: 'redis-streams', url: redisUrl },
    store: store === 'embedded' ? { kind: 'embedded' } : { kind: 'postgres', databaseUrl: shared.databaseUrl },
    writeDb,
    databaseUrl: shared.databaseUrl,
    events: readWhole(args, '--events', maxEvents, events, 'row changes per run; also the first argument'),
    runs: readWhole(args, '--runs', maxRuns, runs, 'runs; the median is reported'),
    writers: readWhole(args, '--writers', maxWriters, writers, 'concurrent writers'),
    pace: readPace(args, '--pace', pace),
    timeoutMs: shared.timeoutMs,
    logLevel: shared.logLevel,
    pgliteOptimize: shared.pgliteOptimize,
    dryRun,
  });
}

export function loadRelayConfig(variables: Env = process.env, argv: readonly string[] = process.argv.slice(2)): RelayBenchConfig {
  const { args, dryRun } = readCommandLine(argv, ['rows', 'runs', 'batch-sizes'], 'rows', 'relay.bench.js [N] [--rows N] [--runs R] [--batch-sizes default,20,500,20-1000] [--dry-run]');
  const env = createEnvReader(variables);
  // Draining 100,000 rows 20 at a time takes minutes on a small machine.
  const shared = readShared(env, 900_000);
  const rows = readWhole(env, 'BENCH_RELAY_ROWS', maxEvents, 100_000, 'outbox rows in the backlog');
  const runs = readWhole(env, 'BENCH_RUNS', maxRuns, 3, 'runs per batch size; the median is reported');
  const batchSizes = readBatchSizes(env, 'BENCH_RELAY_BATCH_SIZES', [defaultRelayBatch, { batchSize: 20, maxBatchSize: 20 }, { batchSize: 500, maxBatchSize: 500 }]);
  return finish(env, args, {
    rows: readWhole(args, '--rows', maxEvents, rows, 'outbox rows in the backlog; also the first argument'),
    runs: readWhole(args, '--runs', maxRuns, runs, 'runs per batch size; the median is reported'),
    batchSizes: readBatchSizes(args, '--batch-sizes', batchSizes),
    databaseUrl: shared.databaseUrl,
    timeoutMs: shared.timeoutMs,
    logLevel: shared.logLevel,
    pgliteOptimize: shared.pgliteOptimize,
    dryRun,
  });
}

/**
 * The consumer benchmark's settings. Command-line values win over the environment:
 * `node dist/bench/consumer.bench.js [N] [--events N] [--runs R] [--store embedded|postgres] [--dry-run]`.
 */
export interface ConsumerBenchConfig {
  /** Events in the Redis Streams backlog the consumer drains. */
  readonly events: number;
  readonly runs: number;
  readonly store: BenchStore;
  /** The Redis the services use (REDIS_URL). */
  readonly redisUrl: string;
  readonly timeoutMs: number;
  readonly logLevel: BenchLogLevel;
  /** PGLITE_OPTIMIZE, as the services read it (common/pglite.ts). */
  readonly pgliteOptimize: boolean;
  /** Print only; leave `bench/results.md` alone. */
  readonly dryRun: boolean;
}

export function loadConsumerBenchConfig(variables: Env = process.env, argv: readonly string[] = process.argv.slice(2)): ConsumerBenchConfig {
  const { args, dryRun } = readCommandLine(argv, ['events', 'runs', 'store'], 'events', 'consumer.bench.js [N] [--events N] [--runs R] [--store embedded|postgres] [--dry-run]');
  const env = createEnvReader(variables);
  const shared = readShared(env, 600_000);
  const store = readChoice(args, '--store', benchStoreKinds, readChoice(env, 'BENCH_STORE', benchStoreKinds, 'embedded'));
  const events = readWhole(env, 'BENCH_CONSUMER_EVENTS', maxEvents, 50_000, 'events in the backlog');
  const runs = readWhole(env, 'BENCH_RUNS', maxRuns, 3, 'runs; the median is reported');
  const redisUrl = readUrl(env, 'REDIS_URL', ['redis:', 'rediss:'], 'a redis:// or rediss:// URL') ?? defaultRedisUrl;
  return finish(env, args, {
    events: readWhole(args, '--events', maxEvents, events, 'events in the backlog; also the first argument'),
    runs: readWhole(args, '--runs', maxRuns, runs, 'runs; the median is reported'),
    store: store === 'embedded' ? { kind: 'embedded' } : { kind: 'postgres', databaseUrl: shared.databaseUrl },
    redisUrl,
    timeoutMs: shared.timeoutMs,
    logLevel: shared.logLevel,
    pgliteOptimize: shared.pgliteOptimize,
    dryRun,
  });
}

/**
 * The snapshot benchmark's settings. Command-line values win over the environment:
 * `node dist/bench/snapshot.bench.js [N] [--rows N] [--runs R] [--write-db embedded|postgres] [--dry-run]`.
 */
export interface SnapshotBenchConfig {
  /** Rows in the table, there before its trigger. */
  readonly rows: number;
  readonly runs: number;
  /** Where the table and its outbox live: the embedded database, or a PostgreSQL schema of BENCH_DATABASE_URL. */
  readonly writeDb: BenchWriteDb;
  readonly databaseUrl: string;
  readonly timeoutMs: number;
  readonly logLevel: BenchLogLevel;
  /** PGLITE_OPTIMIZE, as the services read it (common/pglite.ts). */
  readonly pgliteOptimize: boolean;
  readonly dryRun: boolean;
}

export function loadSnapshotBenchConfig(variables: Env = process.env, argv: readonly string[] = process.argv.slice(2)): SnapshotBenchConfig {
  const usage = 'snapshot.bench.js [N] [--rows N] [--runs R] [--write-db embedded|postgres] [--dry-run]';
  const { args, dryRun } = readCommandLine(argv, ['rows', 'runs', 'write-db'], 'rows', usage);
  const env = createEnvReader(variables);
  const shared = readShared(env, 600_000);
  const rows = readWhole(env, 'BENCH_SNAPSHOT_ROWS', maxEvents, 100_000, 'rows in the table');
  const runs = readWhole(env, 'BENCH_RUNS', maxRuns, 3, 'runs; the median is reported');
  const writeDb = readChoice(args, '--write-db', benchWriteDbKinds, readChoice(env, 'BENCH_WRITE_DB', benchWriteDbKinds, 'postgres'));
  return finish(env, args, {
    rows: readWhole(args, '--rows', maxEvents, rows, 'rows in the table; also the first argument'),
    runs: readWhole(args, '--runs', maxRuns, runs, 'runs; the median is reported'),
    writeDb,
    databaseUrl: shared.databaseUrl,
    timeoutMs: shared.timeoutMs,
    logLevel: shared.logLevel,
    pgliteOptimize: shared.pgliteOptimize,
    dryRun,
  });
}
