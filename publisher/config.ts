import { defaultRelayBatch, maxRelayBatchSize } from './relay.js';
import type { LogLevel } from '../common/logger.js';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseOracleUrl } from './capture/oracle/oracle-url.js';
import { defaultSnapshotChunkSize } from './capture/snapshot.js';
import { booleanFlag, createEnvReader, wholeNumber, type Env, type EnvReader } from '../common/config/env-reader.js';
import { readStuckAfterMs } from '../common/stall-watch.js';
import { readMaxVersionAheadMs } from '../common/config/version.js';
import { readSigningKeys, type SigningKeys } from '../common/config/signing.js';
import { ConfigError } from '../common/errors.js';
import { applyLegacyAliases } from '../common/config/legacy-env.js';
import { readCollections, readDataDir, readHost, readLogLevel, readPgliteOptimize, readPort } from '../common/config/readers.js';
import { readPublisherTransport, type PublisherTransportConfig } from '../transports/config.js';

/** Where the relay reads events from, and where the HTTP ways in write them. */
export type OutboxConfig =
  /** The publisher's own PGlite database in `<DATA_DIR>/outbox`. */
  | { readonly kind: 'embedded'; readonly dataDir: string; readonly path: string; /** PGLITE_OPTIMIZE (common/pglite.ts). */ readonly optimize: boolean }
  /** The write database's `tweetbus_outbox`, filled by the capture trigger. */
  | { readonly kind: 'postgres'; readonly databaseUrl: string; readonly applySchema: boolean }
  /** An Oracle write database's `tweetbus_outbox` (sql/oracle/, applied by a DBA), read in Thin mode. */
  | { readonly kind: 'oracle'; readonly databaseUrl: string };

export interface RelayConfig {
  /** Rows per pass while the outbox is nearly empty (RELAY_BATCH_SIZE). */
  readonly batchSize: number;
  /** Rows per pass under a backlog: full passes double the batch up to this (RELAY_MAX_BATCH_SIZE). */
  readonly maxBatchSize: number;
  readonly pollIntervalMs: number;
  /** This instance's name in claims (Oracle) and logs. */
  readonly instanceId: string;
  /** PostgreSQL: how often a standby tries to become the active relay. */
  readonly leaderRetryMs: number;
  /** Oracle: how long a claim on rows lasts; a dead instance's rows are taken over after it. */
  readonly claimLeaseMs: number;
  /** RELAY_STUCK_AFTER_MS: how long one outbox batch may be retried before `/readyz` fails. */
  readonly stuckAfterMs: number;
}


/** Published rows are kept a day, deleted a thousand a statement, checked every minute. */
export const defaultRetention: RetentionConfig = { maxAgeMs: 24 * 3_600_000, batchSize: 1_000, intervalMs: 60_000 };

export interface RetentionConfig {
  /** Published rows older than this are deleted; 0 keeps them forever. */
  readonly maxAgeMs: number;
  readonly batchSize: number;
  readonly intervalMs: number;
}

export interface PublisherConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  readonly collections: readonly string[];
  /** `source` of the events the legacy `GET /order` callback creates. */
  readonly sourceName: string;
  readonly outbox: OutboxConfig;
  readonly relay: RelayConfig;
  readonly retention: RetentionConfig;
  readonly transport: PublisherTransportConfig;
  /** TRUST_HMAC_KEY: signs every event (required over X, where it marks the publisher's posts). */
  readonly signing: SigningKeys | undefined;
  /** VERSION_MAX_AHEAD_MS: how far past this clock a `POST /events` version may stand. */
  readonly maxVersionAheadMs: number;
  /** SNAPSHOT_ON_ATTACH: snapshot each captured table whose snapshot never finished, at start; with the chunk size. */
  readonly snapshotOnAttach: { readonly chunkSize: number } | undefined;
  /** Old variable names in use (the original demo's), for the log. */
  readonly notices: readonly string[];
}


const maxSnapshotChunkSize = 100_000;

/** SNAPSHOT_CHUNK_SIZE: rows per snapshot chunk, each one short transaction. */
export function readSnapshotChunkSize(env: EnvReader): number {
  return env.read('SNAPSHOT_CHUNK_SIZE', wholeNumber(1, maxSnapshotChunkSize), defaultSnapshotChunkSize, `rows per snapshot chunk, 1 to ${String(maxSnapshotChunkSize)}`);
}

/** OUTBOX names the kind; unset, the scheme of OUTBOX_DATABASE_URL does (postgres://, oracle://), else embedded. */
export function readOutboxConfig(env: EnvReader): OutboxConfig {
  const { value, read, required } = env;
  const databaseUrl = value('OUTBOX_DATABASE_URL');
  const scheme = databaseUrl === undefined ? undefined : /^([a-z]+):\/\//.exec(databaseUrl)?.[1];
  const inferred = scheme === 'oracle' ? 'oracle' : databaseUrl === undefined ? 'embedded' : 'postgres';
  const kind = read('OUTBOX', z.enum(['embedded', 'postgres', 'oracle']), inferred, '"embedded" (PGlite in DATA_DIR), "postgres" or "oracle" (with OUTBOX_DATABASE_URL)');
  switch (kind) {
    case 'embedded': {
      const dataDir = readDataDir(env);
      return { kind, dataDir, path: join(dataDir, 'outbox'), optimize: readPgliteOptimize(env) };
    }
    case 'postgres': {
      const url = required('OUTBOX_DATABASE_URL', 'the postgres:// URL of the write database whose tweetbus_outbox table the trigger fills');
      if (url !== '' && scheme !== 'postgres' && scheme !== 'postgresql') {
        env.problem('OUTBOX_DATABASE_URL should hold a postgres:// or postgresql:// URL when OUTBOX=postgres');
      }
      const applySchema = read('OUTBOX_APPLY_SCHEMA', booleanFlag, true, 'true or false (create the outbox table and trigger function at start)');
      return { kind, databaseUrl: url, applySchema };
    }
    case 'oracle': {
      const url = required('OUTBOX_DATABASE_URL', 'the oracle://user:password@host:port/service URL of the write database whose tweetbus_outbox the sql/oracle/ trigger fills');
      if (url !== '' && scheme !== 'oracle') env.problem('OUTBOX_DATABASE_URL should hold an oracle://user:password@host:port/service URL when OUTBOX=oracle');
      else if (url !== '') {
        try {
          parseOracleUrl(url, 'OUTBOX_DATABASE_URL');
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          for (const issue of err.issues) env.problem(issue);
        }
      }
      return { kind, databaseUrl: url };
    }
  }
}

/**
 * Reads and checks the publisher's configuration. Every problem is collected, each naming the
 * variable and what it should hold; values are never echoed, because some are secrets.
 * An empty variable counts as unset.
 */
export function loadConfig(processEnv: Env = process.env): PublisherConfig {
  const legacy = applyLegacyAliases(processEnv, 'publisher');
  const env = createEnvReader(legacy.env);
  for (const issue of legacy.issues) env.problem(issue);
  const { read } = env;

  const port = readPort(env, 'PUBLISHER_PORT', 3001);
  const host = readHost(env);
  const logLevel = readLogLevel(env);
  const collections = readCollections(env);
  const sourceName = read('SOURCE_NAME', z.string().max(256), 'legacy', 'at most 256 characters');
  const batchSize = read('RELAY_BATCH_SIZE', wholeNumber(1, maxRelayBatchSize), defaultRelayBatch.batchSize, `a whole number of events per batch from 1 to ${String(maxRelayBatchSize)}`);
  const maxBatchSize = read('RELAY_MAX_BATCH_SIZE', wholeNumber(1, maxRelayBatchSize), defaultRelayBatch.maxBatchSize, `a whole number of events per batch under a backlog, from 1 to ${String(maxRelayBatchSize)}`);
  if (maxBatchSize < batchSize) env.problem(`RELAY_MAX_BATCH_SIZE (${String(maxBatchSize)}) should be at least RELAY_BATCH_SIZE (${String(batchSize)})`);
  const pollIntervalMs = read('RELAY_POLL_INTERVAL_MS', wholeNumber(10, 600_000), 500, 'milliseconds between outbox polls, 10 to 600000');

  const instanceId = read('RELAY_INSTANCE_ID', z.string().regex(/^[\w.:-]{1,100}$/), `${hostname()}-${String(process.pid)}`, 'a name of up to 100 letters, digits and . _ : -');
  const leaderRetryMs = read('RELAY_LEADER_RETRY_MS', wholeNumber(100, 60_000), 2_000, 'milliseconds between leadership attempts, 100 to 60000');
  const stuckAfterMs = readStuckAfterMs('RELAY_STUCK_AFTER_MS', env);
  const maxVersionAheadMs = readMaxVersionAheadMs(env);
  const claimLeaseMs = read('RELAY_CLAIM_LEASE_MS', wholeNumber(1_000, 3_600_000), 15_000, 'milliseconds a claim on Oracle outbox rows lasts, 1000 to 3600000');
  const retentionHours = read('OUTBOX_RETENTION_HOURS', z.coerce.number().min(0).max(24 * 3_650), defaultRetention.maxAgeMs / 3_600_000, 'hours published outbox rows are kept (0 keeps them forever)');
  const retentionBatch = read('OUTBOX_RETENTION_BATCH_SIZE', wholeNumber(1, 100_000), defaultRetention.batchSize, 'rows deleted per retention statement, 1 to 100000');
  const retentionIntervalMs = read('OUTBOX_RETENTION_INTERVAL_MS', wholeNumber(1_000, 86_400_000), defaultRetention.intervalMs, 'milliseconds between retention runs, 1000 to 86400000');

  const outbox = readOutboxConfig(env);
  const onAttach = read('SNAPSHOT_ON_ATTACH', booleanFlag, false, 'true or false (snapshot each captured table once, at start)');
  const snapshotChunkSize = readSnapshotChunkSize(env);

  const transport = readPublisherTransport(env, collections);
  const signing = readSigningKeys(env, transport.kind === 'x' ? "over X (TRANSPORT=x): the consumer applies only signed posts' versions and ids" : undefined, { previous: false });

  if (env.issues.length > 0) throw new ConfigError(env.issues);
  return {
    port,
    host,
    logLevel,
    collections,
    sourceName,
    outbox,
    relay: { batchSize, maxBatchSize, pollIntervalMs, instanceId, leaderRetryMs, claimLeaseMs, stuckAfterMs },
    retention: { maxAgeMs: Math.round(retentionHours * 3_600_000), batchSize: retentionBatch, intervalMs: retentionIntervalMs },
    transport,
    signing,
    maxVersionAheadMs,
    snapshotOnAttach: onAttach ? { chunkSize: snapshotChunkSize } : undefined,
    notices: legacy.notices,
  };
}
