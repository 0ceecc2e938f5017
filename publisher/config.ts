import { join } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { collectionNamePattern } from '../events/envelope.js';

/** Where the relay reads events from, and where the HTTP ways in write them. */
export type OutboxConfig =
  /** The publisher's own PGlite database in `<DATA_DIR>/outbox`. */
  | { readonly kind: 'embedded'; readonly dataDir: string; readonly path: string }
  /** The write database's `tweetbus_outbox`, filled by the capture trigger. */
  | { readonly kind: 'postgres'; readonly databaseUrl: string; readonly applySchema: boolean };

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
  readonly relay: { readonly batchSize: number; readonly pollIntervalMs: number };
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
  const batchSize = read('RELAY_BATCH_SIZE', int(1, 1000), 20, 'a whole number of events per batch from 1 to 1000');
  const pollIntervalMs = read('RELAY_POLL_INTERVAL_MS', int(10, 600_000), 500, 'milliseconds between outbox polls, 10 to 600000');

  const outboxKind = read('OUTBOX', z.enum(['embedded', 'postgres']), 'embedded', '"embedded" (PGlite in DATA_DIR) or "postgres" (with OUTBOX_DATABASE_URL)');
  let outbox: OutboxConfig;
  if (outboxKind === 'postgres') {
    const databaseUrl = required('OUTBOX_DATABASE_URL', 'the postgres:// URL of the write database whose tweetbus_outbox table the trigger fills');
    if (databaseUrl !== '' && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
      issues.push('OUTBOX_DATABASE_URL should hold a postgres:// or postgresql:// URL');
    }
    const applySchema = read('OUTBOX_APPLY_SCHEMA', flag, true, 'true or false (create the outbox table and trigger function at start)');
    outbox = { kind: 'postgres', databaseUrl, applySchema };
  } else {
    const dataDir = read('DATA_DIR', z.string(), './data', 'a directory path');
    outbox = { kind: 'embedded', dataDir, path: join(dataDir, 'outbox') };
  }

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
    relay: { batchSize, pollIntervalMs },
    transport: { kind: 'x', apiUrl, caFile, credentials, hashtagPrefix },
  };
}
