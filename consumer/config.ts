import type { LogLevel } from '../common/logger.js';
import { join } from 'node:path';
import { z } from 'zod';
import { createEnvReader, type Env, type EnvReader } from '../common/config/env-reader.js';
import { readChoice, readCollections, readDataDir, readHost, readLogLevel, readPgliteOptimize, readPort, readUrl } from '../common/config/readers.js';
import { ConfigError } from '../common/errors.js';
import { applyLegacyAliases } from '../common/config/legacy-env.js';
import { readStuckAfterMs } from '../common/stall-watch.js';
import { readMaxVersionAheadMs } from '../common/config/version.js';
import { readSigningKeys, type SigningKeys } from '../common/config/signing.js';
import { readConsumerTransport, type ConsumerTransportConfig } from '../transports/config.js';
import { trustModes, type TrustMode } from './trust.js';

/** Where the read model, checkpoints and dead letters live. */
export type ConsumerStoreConfig =
  /** `optimize`: PGLITE_OPTIMIZE (common/pglite.ts). */
  | { readonly kind: 'embedded'; readonly dataDir: string; readonly optimize: boolean }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'mongodb'; readonly url: string; readonly database: string };

export interface ConsumerConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  readonly collections: readonly string[];
  readonly trust: TrustMode;
  /** X_TRUSTED_AUTHOR_IDS: the X account ids whose posts apply under TRUST=authors (the publisher's own among them). */
  readonly trustedAuthorIds: readonly string[];
  readonly store: ConsumerStoreConfig;
  readonly transport: ConsumerTransportConfig;
  /** CONSUMER_STUCK_AFTER_MS: how long one batch may be retried before `/readyz` fails. */
  readonly stuckAfterMs: number;
  /** VERSION_MAX_AHEAD_MS: how far past this consumer's clock a version may stand before it is dead-lettered. */
  readonly maxVersionAheadMs: number;
  /** TRUST_HMAC_KEY and TRUST_HMAC_PREVIOUS_KEY: check the publisher's signatures (required over X). */
  readonly signing: SigningKeys | undefined;
  /** Old variable names in use (the original demo's), for the log. */
  readonly notices: readonly string[];
}


const storeKinds = ['embedded', 'postgres', 'mongodb'] as const;

/**
 * Reads the consumer's configuration from environment variables (dotenv is loaded by `main.ts`
 * only). Every problem is reported at once in one `ConfigError`, each naming its variable and what it
 * should hold, never the value: it might be a secret (a token, or a connection string with a password).
 */
export function loadConfig(processEnv: Env = process.env): ConsumerConfig {
  const legacy = applyLegacyAliases(processEnv, 'consumer');
  const env = createEnvReader(legacy.env);
  for (const issue of legacy.issues) env.problem(issue);

  const port = readPort(env, 'CONSUMER_PORT', 3002);
  const host = readHost(env);
  const logLevel = readLogLevel(env);
  const collections = readCollections(env);
  const trust = readChoice(
    env,
    'TRUST',
    trustModes,
    'open',
    '"open" (posts from anyone, demo only), "authors" (only the X accounts in X_TRUSTED_AUTHOR_IDS), "signed" (only events the publisher signed with TRUST_HMAC_KEY) or "signed,authors" (both)',
  );
  const store = readStore(env);
  const transport = readConsumerTransport(env, collections);
  const stuckAfterMs = readStuckAfterMs('CONSUMER_STUCK_AFTER_MS', env);
  const maxVersionAheadMs = readMaxVersionAheadMs(env);
  const trustedAuthorIds = env.read(
    'X_TRUSTED_AUTHOR_IDS',
    z.string().transform((list) => list.split(',').map((id) => id.trim()).filter((id) => id !== '')).pipe(z.array(z.string().regex(/^\d{1,19}$/)).min(1)),
    [],
    'a comma-separated list of X account ids (digits, not @names: a name can be changed and then taken by someone else)',
  );
  const mode = env.value('TRUST') === undefined || trustModes.some((m) => m === env.value('TRUST')) ? trust : undefined;
  const byAuthors = mode === 'authors' || mode === 'signed,authors';
  if (byAuthors && trustedAuthorIds.length === 0 && env.value('X_TRUSTED_AUTHOR_IDS') === undefined) {
    env.problem(`X_TRUSTED_AUTHOR_IDS is required with TRUST=${mode}: the X account ids whose hand-typed posts apply${mode === 'authors' ? ', the publisher\'s own account among them' : ''}`);
  }
  if (byAuthors && transport.kind !== 'x') env.problem(`TRUST=${mode} trusts X accounts, and needs TRANSPORT=x (not ${transport.kind})`);
  const keyNeeded =
    mode === 'signed' || mode === 'signed,authors'
      ? `with TRUST=${mode}: only events signed with it apply`
      : transport.kind === 'x'
        ? 'over X (TRANSPORT=x): it tells the publisher\'s signed posts from hand-typed ones'
        : undefined;
  const signing = readSigningKeys(env, keyNeeded, { previous: true });
  if (env.issues.length > 0) throw new ConfigError(env.issues);
  return { port, host, logLevel, collections, trust, trustedAuthorIds, store, transport, stuckAfterMs, maxVersionAheadMs, signing, notices: legacy.notices };
}

/** STORE and the variables of the store it names (the consumer's, and `npm run verify`'s read side). */
export function readStore(env: EnvReader): ConsumerStoreConfig {
  const kind = readChoice(env, 'STORE', storeKinds, 'embedded', 'one of embedded (default), postgres, mongodb');
  const postgresUrl = readUrl(env, 'POSTGRES_URL', ['postgres:', 'postgresql:'], 'a PostgreSQL connection URL (postgres://user:password@host:5432/db)');
  const mongodbUrl = readUrl(env, 'MONGODB_URL', ['mongodb:', 'mongodb+srv:'], 'a MongoDB connection URL (mongodb://host:27017 or mongodb+srv://…)');
  const database = env.read('MONGODB_DATABASE', z.string().regex(/^[A-Za-z0-9_-]{1,63}$/), 'tweetbus', 'a database name of letters, digits, _ and - (at most 63)');
  switch (kind) {
    case 'embedded':
      return { kind, dataDir: join(readDataDir(env), 'read-model'), optimize: readPgliteOptimize(env) };
    case 'postgres':
      if (env.value('POSTGRES_URL') === undefined) env.problem('POSTGRES_URL is required with STORE=postgres: the PostgreSQL connection URL');
      return { kind, url: postgresUrl ?? '' };
    case 'mongodb':
      if (env.value('MONGODB_URL') === undefined) env.problem('MONGODB_URL is required with STORE=mongodb: the MongoDB connection URL');
      return { kind, url: mongodbUrl ?? '', database };
  }
}
