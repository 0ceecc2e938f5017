import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createEnvReader } from '../common/config/env-reader.js';
import { readDataDir, readHost, readLogLevel, readPgliteOptimize, readPort } from '../common/config/readers.js';
import type { LogLevel } from '../common/logger.js';
import { ConfigError } from '../common/errors.js';
import { applyLegacyAliases } from '../common/config/legacy-env.js';
import { readStuckAfterMs } from '../common/stall-watch.js';
import { readMaxVersionAheadMs } from '../common/config/version.js';
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
  /** PGLITE_OPTIMIZE (common/pglite.ts). */
  readonly pgliteOptimize: boolean;
  readonly fresh: boolean;
  readonly host: string;
  readonly ports: { readonly writeApp: number; readonly publisher: number; readonly consumer: number; readonly xEmulator: number };
  readonly logLevel: LogLevel;
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

/** The demo's own names, so it never shares a stream, topic or group with a service using the defaults. */
const demoDefaults = { REDIS_STREAM: 'tweetbus:demo', KAFKA_TOPIC: 'tweetbus.demo', CHECKPOINT_NAME: 'demo-consumer' };

export function loadDemoConfig(env: Readonly<Record<string, string | undefined>> = process.env, argv: readonly string[] = process.argv.slice(2)): DemoConfig {
  let flags: { fresh?: boolean | undefined; transport?: string | undefined; trust?: string | undefined };
  try {
    flags = parseArgs({ args: [...argv], options: { fresh: { type: 'boolean' }, transport: { type: 'string' }, trust: { type: 'string' } }, strict: true }).values;
  } catch (err) {
    throw new ConfigError([`command line: ${err instanceof Error ? err.message : String(err)}; the demo takes --fresh, --transport x|redis-streams|kafka and --trust open|authors|signed|signed,authors`]);
  }
  const legacy = applyLegacyAliases(env, 'demo');
  const issues = [...legacy.issues];
  const transport = readDemoTransport({ ...demoDefaults, ...legacy.env, ...(flags.transport === undefined ? {} : { TRANSPORT: flags.transport }) }, issues);
  const reader = createEnvReader(legacy.env);
  const dataDir = readDataDir(reader);
  const pgliteOptimize = readPgliteOptimize(reader);
  const host = readHost(reader);
  const ports = {
    writeApp: readPort(reader, 'WRITE_APP_PORT', 3000),
    publisher: readPort(reader, 'PUBLISHER_PORT', 3001),
    consumer: readPort(reader, 'CONSUMER_PORT', 3002),
    xEmulator: readPort(reader, 'X_EMULATOR_PORT', 3443),
  };
  const logLevel = readLogLevel(reader);
  const hashtagPrefix = reader.read('X_HASHTAG_PREFIX', z.string().regex(/^[A-Za-z0-9_]*$/), '', 'letters, digits and _ only (a hashtag ends at - or .)');
  const stuckAfterMs = { consumer: readStuckAfterMs('CONSUMER_STUCK_AFTER_MS', reader), relay: readStuckAfterMs('RELAY_STUCK_AFTER_MS', reader) };
  const maxVersionAheadMs = readMaxVersionAheadMs(reader);
  const trustName = flags.trust ?? reader.value('TRUST') ?? 'open';
  const trust = trustModes.find((mode) => mode === trustName) ?? 'open';
  if (trust !== trustName) issues.push(`TRUST (or --trust) should be one of ${trustModes.join(', ')}, not "${trustName}"`);
  if ((trust === 'authors' || trust === 'signed,authors') && transport.kind !== 'x') {
    issues.push(`TRUST=${trust} (--trust ${trust}) trusts X accounts: it needs the demo over X`);
  }
  if (!collectionNamePattern.test(`x${hashtagPrefix}orders`)) {
    reader.problem('X_HASHTAG_PREFIX should hold a prefix that, with a collection name, forms a hashtag of at most 64 characters');
  }
  issues.push(...reader.issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    dataDir,
    pgliteOptimize,
    fresh: flags.fresh === true,
    host,
    ports,
    logLevel,
    hashtagPrefix,
    transport,
    stuckAfterMs,
    maxVersionAheadMs,
    trust,
  };
}

/** X needs nothing (the emulator runs inside); Redis and Kafka are read as the services read them. */
function readDemoTransport(env: Readonly<Record<string, string | undefined>>, issues: string[]): DemoTransport {
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
