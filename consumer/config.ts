import { join } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { z } from 'zod';
import { createEnvReader } from '../common/env-reader.js';
import { ConfigError } from '../common/errors.js';
import { applyLegacyAliases } from '../common/legacy-env.js';
import { readStuckAfterMs } from '../common/stall-watch.js';
import { readMaxVersionAheadMs } from '../common/version-config.js';
import { readSigningKeys, type SigningKeys } from '../common/signing-config.js';
import { collectionNamePattern } from '../events/envelope.js';
import { readConsumerTransport, type ConsumerTransportConfig } from '../transports/config.js';
import { trustModes, type TrustMode } from './trust.js';

/** Where the read model, checkpoints and dead letters live. */
export type ConsumerStoreConfig =
  | { readonly kind: 'embedded'; readonly dataDir: string }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'mongodb'; readonly url: string; readonly database: string };

export interface ConsumerConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LevelWithSilent;
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

type Env = Readonly<Record<string, string | undefined>>;

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** An unset or blank variable takes the default. */
const blankIsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankIsUnset, schema.optional());
const withDefault = <T extends z.ZodType<string>>(schema: T, fallback: string) =>
  z.preprocess((value) => blankIsUnset(value) ?? fallback, schema);

const urlWith = (protocols: readonly string[]) => (value: string) => {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

/**
 * Messages name the variable and what it should hold, and never repeat the value: it might be a
 * secret (a token, or a connection string with a password).
 */
const envSchema = z.object({
    CONSUMER_PORT: withDefault(z.string(), '3002').pipe(
      z.string().regex(/^\d{1,5}$/, 'CONSUMER_PORT must be a TCP port number from 0 to 65535').transform(Number)
        .pipe(z.number().max(65535, 'CONSUMER_PORT must be a TCP port number from 0 to 65535')),
    ),
    HOST: withDefault(z.string(), '127.0.0.1'),
    LOG_LEVEL: withDefault(z.string(), 'info').pipe(z.enum(logLevels, { message: `LOG_LEVEL must be one of ${logLevels.join(', ')}` })),
    COLLECTIONS: withDefault(z.string(), 'orders')
      .transform((list) => list.split(',').map((name) => name.trim()).filter((name) => name !== ''))
      .pipe(
        z
          .array(z.string().regex(collectionNamePattern, 'COLLECTIONS must be a comma-separated list of names made of letters, digits and _ (at most 64), each starting with a letter'))
          .min(1, 'COLLECTIONS must list at least one collection, comma-separated (e.g. "orders,customers")')
          .refine((names) => new Set(names.map((n) => n.toLowerCase())).size === names.length, 'COLLECTIONS must not name a collection twice (hashtags match in any letter case)'),
      ),
    TRUST: withDefault(z.string(), 'open').pipe(
      z.enum(trustModes, {
        message:
          'TRUST must be "open" (posts from anyone, demo only), "authors" (only the X accounts in X_TRUSTED_AUTHOR_IDS), "signed" (only events the publisher signed with TRUST_HMAC_KEY) or "signed,authors" (both)',
      }),
    ),
    STORE: withDefault(z.string(), 'embedded').pipe(z.enum(['embedded', 'postgres', 'mongodb'], { message: 'STORE must be one of embedded (default), postgres, mongodb' })),
    DATA_DIR: withDefault(z.string(), './data'),
    POSTGRES_URL: optional(
      z.string().refine(urlWith(['postgres:', 'postgresql:']), 'POSTGRES_URL must be a PostgreSQL connection URL (postgres://user:password@host:5432/db)'),
    ),
    MONGODB_URL: optional(
      z.string().refine(urlWith(['mongodb:', 'mongodb+srv:']), 'MONGODB_URL must be a MongoDB connection URL (mongodb://host:27017 or mongodb+srv://…)'),
    ),
    MONGODB_DATABASE: withDefault(z.string(), 'tweetbus').pipe(
      z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'MONGODB_DATABASE must be a database name of letters, digits, _ and - (at most 63)'),
    ),
  });

/**
 * Reads the consumer's configuration from environment variables (dotenv is loaded by `main.ts`
 * only). Every problem is reported at once in one `ConfigError`, each naming its variable.
 */
export function loadConfig(processEnv: Env = process.env): ConsumerConfig {
  const legacy = applyLegacyAliases(processEnv, 'consumer');
  const env = legacy.env;
  const parsed = envSchema.safeParse(env);
  const reader = createEnvReader(env);
  const transport = readConsumerTransport(reader, parsed.success ? parsed.data.COLLECTIONS : undefined);
  const stuckAfterMs = readStuckAfterMs('CONSUMER_STUCK_AFTER_MS', reader);
  const maxVersionAheadMs = readMaxVersionAheadMs(reader);
  const trustedAuthorIds = reader.read(
    'X_TRUSTED_AUTHOR_IDS',
    z.string().transform((list) => list.split(',').map((id) => id.trim()).filter((id) => id !== '')).pipe(z.array(z.string().regex(/^\d{1,19}$/)).min(1)),
    [],
    'a comma-separated list of X account ids (digits, not @names: a name can be changed and then taken by someone else)',
  );
  const mode = parsed.success ? parsed.data.TRUST : undefined;
  const byAuthors = mode === 'authors' || mode === 'signed,authors';
  if (byAuthors && trustedAuthorIds.length === 0 && reader.value('X_TRUSTED_AUTHOR_IDS') === undefined) {
    reader.problem(`X_TRUSTED_AUTHOR_IDS is required with TRUST=${mode}: the X account ids whose hand-typed posts apply${mode === 'authors' ? ', the publisher\'s own account among them' : ''}`);
  }
  if (byAuthors && transport.kind !== 'x') reader.problem(`TRUST=${mode} trusts X accounts, and needs TRANSPORT=x (not ${transport.kind})`);
  const keyNeeded =
    mode === 'signed' || mode === 'signed,authors'
      ? `with TRUST=${mode}: only events signed with it apply`
      : transport.kind === 'x'
        ? 'over X (TRANSPORT=x): it tells the publisher\'s signed posts from hand-typed ones'
        : undefined;
  const signing = readSigningKeys(reader, keyNeeded, { previous: true });
  const issues = [
    ...legacy.issues,
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => issue.message)),
    ...requiredTogether(env),
    ...reader.issues,
  ];
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  const e = parsed.data;
  return {
    port: e.CONSUMER_PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    collections: e.COLLECTIONS,
    trust: e.TRUST,
    trustedAuthorIds,
    store: storeConfig(e),
    transport,
    stuckAfterMs,
    maxVersionAheadMs,
    signing,
    notices: legacy.notices,
  };
}

function storeConfig(e: z.infer<typeof envSchema>): ConsumerStoreConfig {
  switch (e.STORE) {
    case 'embedded':
      return { kind: 'embedded', dataDir: join(e.DATA_DIR, 'read-model') };
    case 'postgres':
      return { kind: 'postgres', url: present(e.POSTGRES_URL, 'POSTGRES_URL must hold the PostgreSQL connection URL') };
    case 'mongodb':
      return { kind: 'mongodb', url: present(e.MONGODB_URL, 'MONGODB_URL must hold the MongoDB connection URL'), database: e.MONGODB_DATABASE };
  }
}

/** Variables required by the choice of another; checked on the raw values so every problem is reported at once. */
function requiredTogether(env: Env): string[] {
  const value = (name: string) => (blankIsUnset(env[name]) === undefined ? undefined : env[name]?.trim());
  const issues: string[] = [];
  const store = value('STORE');
  if (store === 'postgres' && value('POSTGRES_URL') === undefined) {
    issues.push('POSTGRES_URL must hold the PostgreSQL connection URL when STORE=postgres');
  }
  if (store === 'mongodb' && value('MONGODB_URL') === undefined) {
    issues.push('MONGODB_URL must hold the MongoDB connection URL when STORE=mongodb');
  }
  return issues;
}

/** The schema's cross-field rules already guarantee these; this keeps the types honest without a cast. */
function present(value: string | undefined, issue: string): string {
  if (value === undefined) throw new ConfigError([issue]);
  return value;
}
