import { parseArgs } from 'node:util';
import { z } from 'zod';
import { logLevels } from '../common/config/readers.js';
import { ConfigError } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import { pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { maxRelayBatchSize } from '../publisher/config.js';
import { defaultRedisUrl } from '../transports/config.js';

export type BenchLogLevel = LogLevel;

export const benchTransportKinds = ['x', 'redis-streams', 'kafka'] as const;
export const benchStoreKinds = ['embedded', 'postgres'] as const;

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
 * `node dist/bench/pipeline.bench.js [N] [--events N] [--runs R] [--writers W] [--transport x|redis-streams|kafka] [--store embedded|postgres] [--dry-run]`.
 */
export interface BenchConfig {
  readonly transport: BenchTransport;
  readonly store: BenchStore;
  /** Row changes written to `dvx_orders` per run. */
  readonly events: number;
  /** Runs; the median one (by events per second) is reported. */
  readonly runs: number;
  /** Concurrent writers issuing the row changes. */
  readonly writers: number;
  /** Gives up on a run whose read model has not caught up after this long. */
  readonly timeoutMs: number;
  /** Services' log lines go to stderr at this level. */
  readonly logLevel: BenchLogLevel;
  /** Print only; leave `bench/results.md` alone. */
  readonly dryRun: boolean;
}

const whole = (name: string, max: number) =>
  z.coerce
    .number({ message: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .min(1, `${name} must be at least 1`)
    .max(max, `${name} must be at most ${max}`);

const maxEvents = 1_000_000;

const oneOf = <T extends readonly [string, ...string[]]>(name: string, values: T) =>
  z.enum(values, { message: `${name} must be ${values.slice(0, -1).join(', ')} or ${String(values.at(-1))}` });

const timeoutMs = whole('BENCH_TIMEOUT_MS (milliseconds a run may take to converge)', 24 * 60 * 60 * 1000);

/** Settings every benchmark reads the same way. */
const sharedEnv = {
  BENCH_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'BENCH_DATABASE_URL must be a postgres:// URL')
    .default(pgTestDatabaseUrl),
  BENCH_TIMEOUT_MS: timeoutMs.default(300_000),
  BENCH_LOG_LEVEL: z
    .enum(logLevels, { message: `BENCH_LOG_LEVEL must be one of ${logLevels.join(', ')}` })
    .default('warn'),
};

const envSchema = z.object({
  BENCH_EVENTS: whole('BENCH_EVENTS (row changes per run)', maxEvents).default(500),
  BENCH_RUNS: whole('BENCH_RUNS (runs; the median is reported)', 99).default(3),
  BENCH_WRITERS: whole('BENCH_WRITERS (concurrent writers)', 64).default(4),
  BENCH_TRANSPORT: oneOf('BENCH_TRANSPORT', benchTransportKinds).default('x'),
  BENCH_STORE: oneOf('BENCH_STORE', benchStoreKinds).default('embedded'),
  // The services' own variable, so the bench finds the same Redis they use.
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'REDIS_URL must be a redis:// or rediss:// URL').default(defaultRedisUrl),
  // The services' own variable: a Kafka cluster to run on instead of kcat's mock cluster.
  KAFKA_BROKERS: z.string().min(1).optional(),
  ...sharedEnv,
});

const argSchema = z.object({
  events: whole('--events (or the first argument)', maxEvents).optional(),
  runs: whole('--runs', 99).optional(),
  writers: whole('--writers', 64).optional(),
  transport: oneOf('--transport', benchTransportKinds).optional(),
  store: oneOf('--store', benchStoreKinds).optional(),
});

/** Every message names its variable or flag, so the path adds nothing. */
function issuesOf(error: z.ZodError, prefix: string): string[] {
  return error.issues.map((i) => `${prefix}${i.message}`);
}

interface CommandLine {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** Parses the command line with at most one positional argument; a mistake becomes a ConfigError with the usage. */
function parseCommandLine(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>, usage: string): CommandLine {
  let parsed: CommandLine;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError([`command line: ${err instanceof Error ? err.message : String(err)}; usage: ${usage}`]);
  }
  if (parsed.positionals.length > 1) throw new ConfigError([`command line: one positional argument (N) at most, got ${parsed.positionals.length}`]);
  return parsed;
}

function stringValue(values: CommandLine['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Parses both sources, and reports every issue of both at once. */
function parseBoth<E extends z.ZodType, A extends z.ZodType>(envSchema: E, env: unknown, argSchema: A, args: unknown): { env: z.output<E>; args: z.output<A> } {
  const fromEnv = envSchema.safeParse(env);
  const fromArgs = argSchema.safeParse(args);
  if (fromEnv.success && fromArgs.success) return { env: fromEnv.data, args: fromArgs.data };
  throw new ConfigError([...(fromEnv.success ? [] : issuesOf(fromEnv.error, '')), ...(fromArgs.success ? [] : issuesOf(fromArgs.error, 'command line: '))]);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): BenchConfig {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      events: { type: 'string' },
      runs: { type: 'string' },
      writers: { type: 'string' },
      transport: { type: 'string' },
      store: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    'pipeline.bench.js [N] [--events N] [--runs R] [--writers W] [--transport x|redis-streams|kafka] [--store embedded|postgres] [--dry-run]',
  );
  const { env: e, args: a } = parseBoth(envSchema, env, argSchema, {
    events: stringValue(values, 'events') ?? positionals[0],
    runs: stringValue(values, 'runs'),
    writers: stringValue(values, 'writers'),
    transport: stringValue(values, 'transport'),
    store: stringValue(values, 'store'),
  });
  const transport = a.transport ?? e.BENCH_TRANSPORT;
  const store = a.store ?? e.BENCH_STORE;
  return {
    transport: transport === 'x' ? { kind: 'x' } : transport === 'kafka' ? { kind: 'kafka', brokers: e.KAFKA_BROKERS } : { kind: 'redis-streams', url: e.REDIS_URL },
    store: store === 'embedded' ? { kind: 'embedded' } : { kind: 'postgres', databaseUrl: e.BENCH_DATABASE_URL },
    events: a.events ?? e.BENCH_EVENTS,
    runs: a.runs ?? e.BENCH_RUNS,
    writers: a.writers ?? e.BENCH_WRITERS,
    timeoutMs: e.BENCH_TIMEOUT_MS,
    logLevel: e.BENCH_LOG_LEVEL,
    dryRun: values['dry-run'] === true,
  };
}

/**
 * The relay benchmark's settings. Command-line values win over the environment:
 * `node dist/bench/relay.bench.js [N] [--rows N] [--runs R] [--batch-sizes 20,500] [--dry-run]`.
 */
export interface RelayBenchConfig {
  /** Outbox rows in the backlog the relay drains in each run. */
  readonly rows: number;
  /** Runs per batch size; the median one (by events per second) is reported. */
  readonly runs: number;
  /** Each batch size is measured separately and gets its own result row. */
  readonly batchSizes: readonly number[];
  /** The PostgreSQL server; each run works in its own schema and drops it after. */
  readonly databaseUrl: string;
  /** Gives up on a run whose backlog has not drained after this long. */
  readonly timeoutMs: number;
  /** The relay's log lines go to stderr at this level. */
  readonly logLevel: BenchLogLevel;
  /** Print only; leave `bench/results.md` alone. */
  readonly dryRun: boolean;
}

const batchSizes = (name: string) =>
  z
    .preprocess(
      (list) => (typeof list === 'string' ? list.split(',').map((item) => item.trim()) : list),
      z.array(whole(`each of ${name}`, maxRelayBatchSize)).min(1, `${name} must name at least one batch size`),
    )
    .transform((sizes) => [...new Set(sizes)]);

const relayEnvSchema = z.object({
  BENCH_RELAY_ROWS: whole('BENCH_RELAY_ROWS (outbox rows in the backlog)', maxEvents).default(100_000),
  BENCH_RUNS: whole('BENCH_RUNS (runs per batch size; the median is reported)', 99).default(3),
  BENCH_RELAY_BATCH_SIZES: batchSizes('BENCH_RELAY_BATCH_SIZES (comma-separated batch sizes, 1 to 1000)').default([20, 500]),
  ...sharedEnv,
  // Draining 100,000 rows 20 at a time takes minutes on a small machine.
  BENCH_TIMEOUT_MS: timeoutMs.default(900_000),
});

const relayArgSchema = z.object({
  rows: whole('--rows (or the first argument)', maxEvents).optional(),
  runs: whole('--runs', 99).optional(),
  batchSizes: batchSizes('--batch-sizes (comma-separated, 1 to 1000)').optional(),
});

export function loadRelayConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): RelayBenchConfig {
  const { values, positionals } = parseCommandLine(
    argv,
    { rows: { type: 'string' }, runs: { type: 'string' }, 'batch-sizes': { type: 'string' }, 'dry-run': { type: 'boolean' } },
    'relay.bench.js [N] [--rows N] [--runs R] [--batch-sizes 20,500] [--dry-run]',
  );
  const { env: e, args: a } = parseBoth(relayEnvSchema, env, relayArgSchema, {
    rows: stringValue(values, 'rows') ?? positionals[0],
    runs: stringValue(values, 'runs'),
    batchSizes: stringValue(values, 'batch-sizes'),
  });
  return {
    rows: a.rows ?? e.BENCH_RELAY_ROWS,
    runs: a.runs ?? e.BENCH_RUNS,
    batchSizes: a.batchSizes ?? e.BENCH_RELAY_BATCH_SIZES,
    databaseUrl: e.BENCH_DATABASE_URL,
    timeoutMs: e.BENCH_TIMEOUT_MS,
    logLevel: e.BENCH_LOG_LEVEL,
    dryRun: values['dry-run'] === true,
  };
}
