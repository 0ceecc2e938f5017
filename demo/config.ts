import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createEnvReader } from '../common/env-reader.js';
import { ConfigError } from '../common/errors.js';
import { applyLegacyAliases } from '../common/legacy-env.js';
import { readStuckAfterMs } from '../common/stall-watch.js';
import { readMaxVersionAheadMs } from '../common/version-config.js';
import { trustModes, type TrustMode } from '../consumer/trust.js';
import { collectionNamePattern } from '../events/envelope.js';
import {
  readConsumerTransport,
  readPublisherTransport,
  readTransportKind,
  type KafkaConsumerTransport,
  type KafkaPublisherTransport,
  type RedisConsumerTransport,
  type RedisPublisherTransport,
} from '../transports/config.js';

/**
 * The transport between the demo's publisher and consumer: the X emulator (default), or a Redis or
 * Kafka the user runs, configured with the same variables as the services.
 */
export type DemoTransport =
  | { readonly kind: 'x' }
  | { readonly kind: 'redis-streams'; readonly publisher: RedisPublisherTransport; readonly consumer: RedisConsumerTransport }
  | { readonly kind: 'kafka'; readonly publisher: KafkaPublisherTransport; readonly consumer: KafkaConsumerTransport };

/**
 * The demo's configuration: everything embedded, so every variable is optional.
 * Command-line flags: `--fresh` wipes the data directory first; `--transport x|redis-streams|kafka`
 * picks the transport (as TRANSPORT does).
 */
export interface DemoConfig {
  readonly dataDir: string;
  readonly fresh: boolean;
  readonly host: string;
  readonly ports: { readonly writeApp: number; readonly publisher: number; readonly consumer: number; readonly xEmulator: number };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly hashtagPrefix: string;
  readonly transport: DemoTransport;
  /** CONSUMER_STUCK_AFTER_MS and RELAY_STUCK_AFTER_MS: how long one batch may be retried before the page and `/readyz` say it is stuck. */
  readonly stuckAfterMs: { readonly consumer: number; readonly relay: number };
  /** VERSION_MAX_AHEAD_MS: how far past the consumer's clock a version may stand. Default one hour. */
  readonly maxVersionAheadMs?: number;
  /**
   * `--trust` or TRUST: `open` (default) applies hand-typed posts from anyone; `authors` (over X only)
   * only the publisher's and those of the emulator's user `trusted_fan`, so both outcomes show live;
   * `signed` only what the publisher signed (on any transport); `signed,authors` (over X only) that,
   * and `trusted_fan`'s posts.
   */
  readonly trust?: TrustMode;
}

const port = (name: string, fallback: number) =>
  z.coerce
    .number({ message: `${name} must be a TCP port number` })
    .int(`${name} must be a whole number`)
    .min(0, `${name} must be between 0 and 65535`)
    .max(65535, `${name} must be between 0 and 65535`)
    .default(fallback);

const envSchema = z.object({
  DATA_DIR: z.string().min(1).default('./data'),
  HOST: z.string().min(1).default('127.0.0.1'),
  WRITE_APP_PORT: port('WRITE_APP_PORT', 3000),
  PUBLISHER_PORT: port('PUBLISHER_PORT', 3001),
  CONSUMER_PORT: port('CONSUMER_PORT', 3002),
  X_EMULATOR_PORT: port('X_EMULATOR_PORT', 3443),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  }).default('info'),
  X_HASHTAG_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_]*$/, 'X_HASHTAG_PREFIX may hold only letters, digits and _ (a hashtag ends at - or .)')
    .default(''),
});

/** The demo's own names, so it never shares a stream, topic or group with a service using the defaults. */
const demoDefaults = { REDIS_STREAM: 'tweetbus:demo', KAFKA_TOPIC: 'tweetbus.demo', CHECKPOINT_NAME: 'demo-consumer' };

export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): DemoConfig {
  let flags: { fresh?: boolean | undefined; transport?: string | undefined; trust?: string | undefined };
  try {
    flags = parseArgs({ args: [...argv], options: { fresh: { type: 'boolean' }, transport: { type: 'string' }, trust: { type: 'string' } }, strict: true }).values;
  } catch (err) {
    throw new ConfigError([`command line: ${err instanceof Error ? err.message : String(err)}; the demo takes --fresh, --transport x|redis-streams|kafka and --trust open|authors|signed|signed,authors`]);
  }
  const legacy = applyLegacyAliases(env, 'demo');
  const parsed = envSchema.safeParse(legacy.env);
  const issues = [...legacy.issues, ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))];
  const transport = readDemoTransport({ ...demoDefaults, ...legacy.env, ...(flags.transport === undefined ? {} : { TRANSPORT: flags.transport }) }, issues);
  const reader = createEnvReader(legacy.env);
  const stuckAfterMs = { consumer: readStuckAfterMs('CONSUMER_STUCK_AFTER_MS', reader), relay: readStuckAfterMs('RELAY_STUCK_AFTER_MS', reader) };
  const maxVersionAheadMs = readMaxVersionAheadMs(reader);
  const trustName = flags.trust ?? reader.value('TRUST') ?? 'open';
  const trust = trustModes.find((mode) => mode === trustName) ?? 'open';
  if (trust !== trustName) issues.push(`TRUST (or --trust) should be one of ${trustModes.join(', ')}, not "${trustName}"`);
  if ((trust === 'authors' || trust === 'signed,authors') && transport.kind !== 'x') {
    issues.push(`TRUST=${trust} (--trust ${trust}) trusts X accounts: it needs the demo over X`);
  }
  issues.push(...reader.issues);
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  const e = parsed.data;
  if (!collectionNamePattern.test(`x${e.X_HASHTAG_PREFIX}orders`)) {
    throw new ConfigError(['X_HASHTAG_PREFIX: the prefix plus a collection name must form a hashtag of at most 64 characters']);
  }
  return {
    dataDir: e.DATA_DIR,
    fresh: flags.fresh === true,
    host: e.HOST,
    ports: { writeApp: e.WRITE_APP_PORT, publisher: e.PUBLISHER_PORT, consumer: e.CONSUMER_PORT, xEmulator: e.X_EMULATOR_PORT },
    logLevel: e.LOG_LEVEL,
    hashtagPrefix: e.X_HASHTAG_PREFIX,
    transport,
    stuckAfterMs,
    maxVersionAheadMs,
    trust,
  };
}

/** X needs nothing (the emulator runs inside); Redis and Kafka are read as the services read them. */
function readDemoTransport(env: NodeJS.ProcessEnv, issues: string[]): DemoTransport {
  const reader = createEnvReader(env);
  const kind = readTransportKind(reader);
  let transport: DemoTransport = { kind: 'x' };
  const publisher = kind === 'x' ? undefined : readPublisherTransport(reader, ['orders']);
  const consumer = kind === 'x' ? undefined : readConsumerTransport(reader, ['orders']);
  if (publisher?.kind === 'redis-streams' && consumer?.kind === 'redis-streams') transport = { kind: 'redis-streams', publisher, consumer };
  if (publisher?.kind === 'kafka' && consumer?.kind === 'kafka') transport = { kind: 'kafka', publisher, consumer };
  // The publisher and consumer readers report a shared variable twice; once is enough.
  issues.push(...new Set(reader.issues.map((issue) => issue.replace(/^TRANSPORT should hold/, 'TRANSPORT (or --transport) should hold'))));
  return transport;
}
