import { hostname } from 'node:os';
import { join } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { z } from 'zod';
import { parseOracleUrl } from './capture/oracle/oracle-url.js';
import { ConfigError } from '../common/errors.js';
import { collectionNamePattern } from '../events/envelope.js';

/** Where the relay reads events from, and where the HTTP ways in write them. */
export type OutboxConfig =
  /** The publisher's own PGlite database in `<DATA_DIR>/outbox`. */
  | { readonly kind: 'embedded'; readonly dataDir: string; readonly path: string }
  /** The write database's `tweetbus_outbox`, filled by the capture trigger. */
  | { readonly kind: 'postgres'; readonly databaseUrl: string; readonly applySchema: boolean }
  /** An Oracle write database's `tweetbus_outbox` (sql/oracle/, applied by a DBA), read in Thin mode. */
  | { readonly kind: 'oracle'; readonly databaseUrl: string };

export interface RelayConfig {
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  /** This instance's name in claims (Oracle) and logs. */
  readonly instanceId: string;
  /** PostgreSQL: how often a standby tries to become the active relay. */
  readonly leaderRetryMs: number;
  /** Oracle: how long a claim on rows lasts; a dead instance's rows are taken over after it. */
  readonly claimLeaseMs: number;
}

/** The most outbox rows the relay reads and publishes in one batch (RELAY_BATCH_SIZE). */
export const maxRelayBatchSize = 1000;

/** Published rows are kept a day, deleted a thousand a statement, checked every minute. */
export const defaultRetention: RetentionConfig = { maxAgeMs: 24 * 3_600_000, batchSize: 1_000, intervalMs: 60_000 };

export interface RetentionConfig {
  /** Published rows older than this are deleted; 0 keeps them forever. */
  readonly maxAgeMs: number;
  readonly batchSize: number;
  readonly intervalMs: number;
}

/** OAuth 1.0a user-context credentials: posting needs a user. */
export interface XUserCredentials {
  readonly appKey: string;
  readonly appSecret: string;
  readonly accessToken: string;
  readonly accessSecret: string;
}

export interface XTransportConfig {
  readonly kind: 'x';
  readonly apiUrl: string;
  /** PEM file of a CA to trust besides the system's (the emulator's self-signed certificate). */
  readonly caFile: string | undefined;
  readonly credentials: XUserCredentials;
  readonly hashtagPrefix: string;
}

export type TransportConfig = XTransportConfig;

export interface PublisherConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LevelWithSilent;
  readonly collections: readonly string[];
  /** `source` of the events the legacy `GET /order` callback creates. */
  readonly sourceName: string;
  readonly outbox: OutboxConfig;
  readonly relay: RelayConfig;
  readonly retention: RetentionConfig;
  readonly transport: TransportConfig;
}

type Env = Readonly<Record<string, string | undefined>>;

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const logLevelSchema = z.enum(logLevels);

/**
 * Reads and checks the publisher's configuration. Every problem is collected, each naming the
 * variable and what it should hold; values are never echoed, because some are secrets.
 * An empty variable counts as unset.
 */
export function loadConfig(env: Env = process.env): PublisherConfig {
  const issues: string[] = [];

  function value(name: string): string | undefined {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  }

  function read<T>(name: string, schema: z.ZodType<T>, fallback: T, should: string): T {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    issues.push(`${name} should hold ${should}`);
    return fallback;
  }

  function required(name: string, should: string): string {
    const raw = value(name);
    if (raw === undefined) issues.push(`${name} is required: ${should}`);
    return raw ?? '';
  }

  const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
  const flag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

  /** OUTBOX names the kind; unset, the scheme of OUTBOX_DATABASE_URL does (postgres://, oracle://), else embedded. */
  function readOutbox(): OutboxConfig {
    const databaseUrl = value('OUTBOX_DATABASE_URL');
    const scheme = databaseUrl === undefined ? undefined : /^([a-z]+):\/\//.exec(databaseUrl)?.[1];
    const inferred = scheme === 'oracle' ? 'oracle' : databaseUrl === undefined ? 'embedded' : 'postgres';
    const kind = read('OUTBOX', z.enum(['embedded', 'postgres', 'oracle']), inferred, '"embedded" (PGlite in DATA_DIR), "postgres" or "oracle" (with OUTBOX_DATABASE_URL)');
    switch (kind) {
      case 'embedded': {
        const dataDir = read('DATA_DIR', z.string(), './data', 'a directory path');
        return { kind, dataDir, path: join(dataDir, 'outbox') };
      }
      case 'postgres': {
        const url = required('OUTBOX_DATABASE_URL', 'the postgres:// URL of the write database whose tweetbus_outbox table the trigger fills');
        if (url !== '' && scheme !== 'postgres' && scheme !== 'postgresql') {
          issues.push('OUTBOX_DATABASE_URL should hold a postgres:// or postgresql:// URL when OUTBOX=postgres');
        }
        const applySchema = read('OUTBOX_APPLY_SCHEMA', flag, true, 'true or false (create the outbox table and trigger function at start)');
        return { kind, databaseUrl: url, applySchema };
      }
      case 'oracle': {
        const url = required('OUTBOX_DATABASE_URL', 'the oracle://user:password@host:port/service URL of the write database whose tweetbus_outbox the sql/oracle/ trigger fills');
        if (url !== '' && scheme !== 'oracle') issues.push('OUTBOX_DATABASE_URL should hold an oracle://user:password@host:port/service URL when OUTBOX=oracle');
        else if (url !== '') {
          try {
            parseOracleUrl(url, 'OUTBOX_DATABASE_URL');
          } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            issues.push(...err.issues);
          }
        }
        return { kind, databaseUrl: url };
      }
    }
  }

  const port = read('PUBLISHER_PORT', int(0, 65_535), 3001, 'a TCP port number (0-65535; 0 picks a free one)');
  const host = read('HOST', z.string(), '127.0.0.1', 'the address to listen on');
  const logLevel = read('LOG_LEVEL', logLevelSchema, 'info', `one of ${logLevels.join(', ')}`);
  const collections = read(
    'COLLECTIONS',
    z
      .string()
      .transform((s) => s.split(',').map((c) => c.trim()).filter((c) => c !== ''))
      .pipe(z.array(z.string().regex(collectionNamePattern)).min(1))
      .refine((list) => new Set(list).size === list.length),
    ['orders'],
    'a comma-separated list of distinct collection names (letters, digits and _, starting with a letter)',
  );
  const sourceName = read('SOURCE_NAME', z.string().max(256), 'legacy', 'at most 256 characters');
  const batchSize = read('RELAY_BATCH_SIZE', int(1, maxRelayBatchSize), 20, `a whole number of events per batch from 1 to ${String(maxRelayBatchSize)}`);
  const pollIntervalMs = read('RELAY_POLL_INTERVAL_MS', int(10, 600_000), 500, 'milliseconds between outbox polls, 10 to 600000');

  const instanceId = read('RELAY_INSTANCE_ID', z.string().regex(/^[\w.:-]{1,100}$/), `${hostname()}-${String(process.pid)}`, 'a name of up to 100 letters, digits and . _ : -');
  const leaderRetryMs = read('RELAY_LEADER_RETRY_MS', int(100, 60_000), 2_000, 'milliseconds between leadership attempts, 100 to 60000');
  const claimLeaseMs = read('RELAY_CLAIM_LEASE_MS', int(1_000, 3_600_000), 15_000, 'milliseconds a claim on Oracle outbox rows lasts, 1000 to 3600000');
  const retentionHours = read('OUTBOX_RETENTION_HOURS', z.coerce.number().min(0).max(24 * 3_650), defaultRetention.maxAgeMs / 3_600_000, 'hours published outbox rows are kept (0 keeps them forever)');
  const retentionBatch = read('OUTBOX_RETENTION_BATCH_SIZE', int(1, 100_000), defaultRetention.batchSize, 'rows deleted per retention statement, 1 to 100000');
  const retentionIntervalMs = read('OUTBOX_RETENTION_INTERVAL_MS', int(1_000, 86_400_000), defaultRetention.intervalMs, 'milliseconds between retention runs, 1000 to 86400000');

  const outbox = readOutbox();

  read('TRANSPORT', z.literal('x'), 'x', '"x" (the X API, or x-emulator through X_API_URL)');
  const apiUrl = read(
    'X_API_URL',
    z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
    'https://api.x.com',
    'the base URL of the X API, e.g. https://api.x.com or https://127.0.0.1:3443 for x-emulator',
  );
  const caFile = value('X_CA_FILE');
  const credentials: XUserCredentials = {
    appKey: required('X_API_KEY', "the app's API key (consumer key)"),
    appSecret: required('X_API_SECRET', "the app's API key secret (consumer secret)"),
    accessToken: required('X_ACCESS_TOKEN', "the posting account's access token"),
    accessSecret: required('X_ACCESS_SECRET', "the posting account's access token secret"),
  };
  const hashtagPrefix = read('X_HASHTAG_PREFIX', z.string().regex(/^[A-Za-z0-9_]{0,32}$/), '', 'letters, digits and _ put before each collection name to form its hashtag');

  if (issues.length > 0) throw new ConfigError(issues);
  return {
    port,
    host,
    logLevel,
    collections,
    sourceName,
    outbox,
    relay: { batchSize, pollIntervalMs, instanceId, leaderRetryMs, claimLeaseMs },
    retention: { maxAgeMs: Math.round(retentionHours * 3_600_000), batchSize: retentionBatch, intervalMs: retentionIntervalMs },
    transport: { kind: 'x', apiUrl, caFile, credentials, hashtagPrefix },
  };
}
