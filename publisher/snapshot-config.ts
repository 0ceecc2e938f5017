import { finish, readCommandLine } from '../common/config/command-line.js';
import { createEnvReader, wholeNumber, type Env } from '../common/config/env-reader.js';
import { readLogLevel } from '../common/config/readers.js';
import type { LogLevel } from '../common/logger.js';
import { collectionNamePattern } from '../events/envelope.js';
import { readOutboxConfig, readSnapshotChunkSize, type OutboxConfig } from './config.js';

/**
 * `npm run snapshot -- --collection orders [--chunk-size 1000]` (or `node dist/publisher/snapshot-main.js …`):
 * the outbox is the publisher's (OUTBOX, OUTBOX_DATABASE_URL, DATA_DIR), so the snapshot goes where
 * the relay reads.
 */
export interface SnapshotConfig {
  readonly outbox: OutboxConfig;
  /** The collection whose captured tables are snapshotted (every table whose trigger names it). */
  readonly collection: string;
  /** Rows per chunk (SNAPSHOT_CHUNK_SIZE, `--chunk-size`). */
  readonly chunkSize: number;
  readonly logLevel: LogLevel;
}

export const snapshotUsage = 'snapshot-main.js --collection NAME [--chunk-size ROWS]';
const maxChunkSize = 100_000;

export function loadSnapshotConfig(variables: Env = process.env, argv: readonly string[] = process.argv.slice(2)): SnapshotConfig {
  const { args } = readCommandLine(argv, ['collection', 'chunk-size'], undefined, snapshotUsage, { dryRun: false });
  const env = createEnvReader(variables);
  const outbox = readOutboxConfig(env);
  const chunkSize = readSnapshotChunkSize(env);
  const collection = args.required('--collection', `the collection to snapshot, as its capture trigger names it; usage: ${snapshotUsage}`);
  if (collection !== '' && !collectionNamePattern.test(collection)) args.problem('--collection should be letters, digits and _ (at most 64), starting with a letter');
  return finish(env, args, {
    outbox,
    collection,
    chunkSize: args.read('--chunk-size', wholeNumber(1, maxChunkSize), chunkSize, `rows per chunk, 1 to ${String(maxChunkSize)}`),
    logLevel: readLogLevel(env),
  });
}

