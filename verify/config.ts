import { readCommandLine, finish } from '../common/config/command-line.js';
import { createEnvReader, duration, type Env } from '../common/config/env-reader.js';
import { readLogLevel } from '../common/config/readers.js';
import { readMaxVersionAheadMs } from '../common/config/version.js';
import type { LogLevel } from '../common/logger.js';
import { readStore, type ConsumerStoreConfig } from '../consumer/config.js';
import { collectionNamePattern } from '../events/envelope.js';
import { readOutboxConfig, type OutboxConfig } from '../publisher/config.js';
import { defaultSettleMs } from './drift.js';

/**
 * `npm run verify -- --collection orders [--heal]` (or `node dist/verify/main.js …`): the write side
 * is the publisher's outbox database (OUTBOX, OUTBOX_DATABASE_URL, DATA_DIR), the read side the
 * consumer's store (STORE, POSTGRES_URL, MONGODB_URL, MONGODB_DATABASE, DATA_DIR).
 */
export interface VerifyConfig {
  readonly outbox: OutboxConfig;
  readonly store: ConsumerStoreConfig;
  readonly collection: string;
  /** `--heal`: send the drifting keys again, then verify until they agree or `waitMs` passed. */
  readonly heal: boolean;
  /** `--settle`: how long a differing key may take to agree before it counts as drift (changes in flight). */
  readonly settleMs: number;
  /** `--wait`: after a heal, how long the healed keys may take to reach the read model. */
  readonly waitMs: number;
  /** VERSION_MAX_AHEAD_MS: a document further in the future than this is not healed. */
  readonly maxVersionAheadMs: number;
  readonly logLevel: LogLevel;
}

export const verifyUsage = 'verify/main.js --collection NAME [--heal] [--settle 3s] [--wait 30s]';
export const defaultHealWaitMs = 30_000;
const maxWaitMs = 3_600_000;

export function loadVerifyConfig(variables: Env = process.env, argv: readonly string[] = process.argv.slice(2)): VerifyConfig {
  const { args, switched } = readCommandLine(argv, ['collection', 'settle', 'wait'], undefined, verifyUsage, { dryRun: false, switches: ['heal'] });
  const env = createEnvReader(variables);
  const outbox = readOutboxConfig(env);
  const store = readStore(env);
  const collection = args.required('--collection', `the collection to verify, as its capture trigger names it; usage: ${verifyUsage}`);
  if (collection !== '' && !collectionNamePattern.test(collection)) args.problem('--collection should be letters, digits and _ (at most 64), starting with a letter');
  const should = 'a duration such as 500ms, 3s or 1m (at most 1h)';
  return finish(env, args, {
    outbox,
    store,
    collection,
    heal: switched.has('heal'),
    settleMs: args.read('--settle', duration(maxWaitMs), defaultSettleMs, should),
    waitMs: args.read('--wait', duration(maxWaitMs), defaultHealWaitMs, should),
    maxVersionAheadMs: readMaxVersionAheadMs(env),
    logLevel: readLogLevel(env),
  });
}
