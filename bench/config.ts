import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';

export type BenchLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * The pipeline benchmark's settings. Command-line values win over the environment:
 * `node dist/bench/pipeline.bench.js [N] [--events N] [--runs R] [--writers W] [--dry-run]`.
 */
export interface BenchConfig {
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

const envSchema = z.object({
  BENCH_EVENTS: whole('BENCH_EVENTS (row changes per run)', maxEvents).default(500),
  BENCH_RUNS: whole('BENCH_RUNS (runs; the median is reported)', 99).default(3),
  BENCH_WRITERS: whole('BENCH_WRITERS (concurrent writers)', 64).default(4),
  BENCH_TIMEOUT_MS: whole('BENCH_TIMEOUT_MS (milliseconds a run may take to converge)', 24 * 60 * 60 * 1000).default(300_000),
  BENCH_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'BENCH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('warn'),
});

const argSchema = z.object({
  events: whole('--events (or the first argument)', maxEvents).optional(),
  runs: whole('--runs', 99).optional(),
  writers: whole('--writers', 64).optional(),
});

/** Every message names its variable or flag, so the path adds nothing. */
function issuesOf(error: z.ZodError, prefix: string): string[] {
  return error.issues.map((i) => `${prefix}${i.message}`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): BenchConfig {
  let values: { events?: string | undefined; runs?: string | undefined; writers?: string | undefined; 'dry-run'?: boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { events: { type: 'string' }, runs: { type: 'string' }, writers: { type: 'string' }, 'dry-run': { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    throw new ConfigError([
      `command line: ${err instanceof Error ? err.message : String(err)}; usage: pipeline.bench.js [N] [--events N] [--runs R] [--writers W] [--dry-run]`,
    ]);
  }
  if (positionals.length > 1) throw new ConfigError([`command line: one positional argument (N) at most, got ${positionals.length}`]);

  const fromEnv = envSchema.safeParse(env);
  const fromArgs = argSchema.safeParse({ events: values.events ?? positionals[0], runs: values.runs, writers: values.writers });
  const issues = [...(fromEnv.success ? [] : issuesOf(fromEnv.error, '')), ...(fromArgs.success ? [] : issuesOf(fromArgs.error, 'command line: '))];
  if (!fromEnv.success || !fromArgs.success) throw new ConfigError(issues);

  const e = fromEnv.data;
  const a = fromArgs.data;
  return {
    events: a.events ?? e.BENCH_EVENTS,
    runs: a.runs ?? e.BENCH_RUNS,
    writers: a.writers ?? e.BENCH_WRITERS,
    timeoutMs: e.BENCH_TIMEOUT_MS,
    logLevel: e.BENCH_LOG_LEVEL,
    dryRun: values['dry-run'] === true,
  };
}
