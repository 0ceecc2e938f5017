import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { defaultExponentialBackoff, sleep, type Backoff } from '../../common/backoff.js';
import { ConfigError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { createSourceRunner, type PullAdapter, type PulledBatch } from '../source-runner.js';
import type { EventSource, HealthCheck, InboundMessage, Rejection } from '../transport.js';
import {
  classifyRedisError,
  defaultStreamName,
  describeRedisFailure,
  openRedisConnection,
  pingRedis,
  toTransportError,
  type RedisConnection,
} from './redis-client.js';
import { createGroup, createGroupReader, handBack, type GroupSession, type StreamEntry } from './group-reader.js';

export interface RedisStreamsSourceOptions {
  /** The source builds and closes its own two clients (one is held by the blocking read). */
  readonly url: string;
  /** Default `tweetbus:events`. */
  readonly stream?: string | undefined;
  /** The consumer group: one per read model. Members of a group share the entries between them. */
  readonly group: string;
  /**
   * This member's name in the group, unique per running instance. Default `<hostname>-<pid>-<random>`.
   * A member restarted under the same name (a StatefulSet pod) resumes its own pending entries first.
   */
  readonly consumer?: string | undefined;
  /** Default `<stream>:dead`. */
  readonly deadLetterStream?: string | undefined;
  /** Entries per handler call (`COUNT`) while the group keeps up. Default 100. */
  readonly batchSize?: number | undefined;
  /** Under a backlog the batch doubles after each full read, up to this. Default 4000. */
  readonly maxBatchSize?: number | undefined;
  /** How long one blocking read waits for new entries (`BLOCK`). Default 2 s. */
  readonly blockMs?: number | undefined;
  /**
   * Idle time after which another member's pending entries are taken over (`XAUTOCLAIM`), and how
   * often this member looks for them. It must exceed the longest time a handler holds a batch, or a
   * slow batch is handled twice (harmless with version gating, but wasted). Default 30 s.
   */
  readonly claimIdleMs?: number | undefined;
  /** Wait before redelivering a batch whose handler threw. */
  readonly handlerBackoff?: Backoff | undefined;
  /** Wait before retrying Redis after a failure (also the clients' reconnect delay). */
  readonly reconnectBackoff?: Backoff | undefined;
  /** Deadline of `check()`'s PING. Default 2 s. */
  readonly checkTimeoutMs?: number | undefined;
  /** How often the stream's counters are read to notice entries lost before this group read them. Default 5 s. */
  readonly watchIntervalMs?: number | undefined;
  readonly logger: Logger;
  readonly now?: (() => Date) | undefined;
}

export type RedisStreamsSourceState = 'idle' | 'connecting' | 'reading' | 'waiting' | 'closed';

/** For readiness probes and the demo's display. */
export interface RedisStreamsSourceStatus {
  readonly state: RedisStreamsSourceState;
  /** Whether the last Redis command succeeded. */
  readonly connected: boolean;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** Entries acknowledged by this member (dead-lettered ones included). */
  readonly acknowledged: number;
  readonly deadLettered: number;
  /** Redis failures this member has waited out. */
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly lastMessageAt: Date | undefined;
}

export interface RedisStreamsSource extends EventSource, HealthCheck {
  status(): RedisStreamsSourceStatus;
}

/** Where Redis is; the source builds and closes its own two clients on it. */
export type RedisStreamsSourceConnection = Pick<RedisStreamsSourceOptions, 'url'>;
/** Everything else the factory takes: the logger (required), names, limits, clocks. */
export type RedisStreamsSourceSettings = Omit<RedisStreamsSourceOptions, 'url'>;

/**
 * Consumes a Redis stream as one member of a consumer group.
 *
 * - **Checkpoint.** The group's last-delivered id and its pending entries list (PEL) in Redis are the
 *   checkpoint: an entry leaves the PEL only when `XACK`ed after its batch was handled. The consumer's
 *   CheckpointStore is therefore not used. A new group starts at `0`, so a new read model replays
 *   what the stream retains.
 * - **Reading.** Own pending entries, then entries other members left idle, then new ones
 *   (group-reader.ts).
 * - **Handling.** A handler that throws gets the same batch again after `handlerBackoff`; it is never
 *   dead-lettered for a throw. When the handler resolves, its rejections go to the dead-letter stream
 *   and the whole batch is acknowledged, in one MULTI. An entry without an `event` field is delivered
 *   with its raw field list as JSON text, so the decoder rejects it and it is dead-lettered rather than
 *   dropped. Entries trimmed while pending are acknowledged and logged.
 * - **Order.** Per key, in stream order, within one member. Members of a group hold different entries at
 *   once, and a claimed entry may be handled after a later one of its key at another member; the
 *   consumer's version gate makes that harmless (an older version never overwrites a newer one).
 * - **Delivery.** At least once. `close()` lets the batch in flight finish and be acknowledged; entries
 *   it leaves pending (a handler still failing) are marked idle since the epoch so the next member
 *   claims them at once. A member that dies without `close()` keeps them until `claimIdleMs` passed.
 *   The member stays registered in the group: `XGROUP DELCONSUMER` would drop its pending entries.
 * - **Failures.** `start` rejects when Redis cannot be reached. Afterwards the source retries on its
 *   own with `reconnectBackoff`; `status()` and `check()` say why it is waiting, and an acknowledgement
 *   that keeps failing shows as a stuck batch in the consumer's `/readyz`.
 * - **Lost entries.** A group that is gone, a stream whose counters went back, and entries trimmed
 *   before this group read them are logged at `error` level with the time from which entries may be
 *   lost (group-reader.ts). The group is made again at `0`; what was lost comes back only when the
 *   publisher publishes it again from its outbox.
 */
/**
 * The largest read under a backlog. The pipeline applies a batch in one statement, so each read
 * pays its round trips and the statement's fixed cost once: into PostgreSQL the consumer kept 57% of
 * the store's bulk-upsert rate at 1,000 and 66% at 4,000 (8,000 gave no more; `npm run bench:consumer`).
 */
const defaultMaxBatchSize = 4_000;

export function createRedisStreamsSource(redis: RedisStreamsSourceConnection, settings: RedisStreamsSourceSettings): RedisStreamsSource {
  const options: RedisStreamsSourceOptions = { ...redis, ...settings };
  const stream = options.stream ?? defaultStreamName;
  const group = options.group;
  const consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const deadLetterStream = options.deadLetterStream ?? `${stream}:dead`;
  const batchSize = options.batchSize ?? 100;
  const maxBatchSize = options.maxBatchSize ?? Math.max(batchSize, defaultMaxBatchSize);
  const blockMs = options.blockMs ?? 2_000;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const reconnectBackoff = options.reconnectBackoff ?? defaultExponentialBackoff({ initialMs: 200, maxMs: 10_000 });
  const checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
  const watchIntervalMs = options.watchIntervalMs ?? 5_000;
  const now = options.now ?? (() => new Date());
  const issues = [
    ...positiveInteger('batchSize', batchSize),
    ...positiveInteger('maxBatchSize', maxBatchSize),
    ...(maxBatchSize < batchSize ? [`maxBatchSize (${String(maxBatchSize)}) must be at least batchSize (${String(batchSize)})`] : []),
    ...positiveInteger('blockMs', blockMs),
    ...positiveInteger('claimIdleMs', claimIdleMs),
    ...(group === '' ? ['group must not be empty'] : []),
  ];
  if (issues.length > 0) throw new ConfigError(issues);
  const logger = options.logger.child({ component: 'redisStreamsSource', stream, group, consumer });
  const runner = createSourceRunner({ name: 'Redis Streams source', logger, handlerBackoff: options.handlerBackoff ?? defaultExponentialBackoff({ initialMs: 500, maxMs: 30_000 }) });
  const { isClosed } = runner;

  const member = { stream, group, consumer };
  let session: GroupSession | undefined;
  let state: RedisStreamsSourceState = 'idle';
  let connected = false;
  let acknowledged = 0;
  let deadLettered = 0;
  let failures = 0;
  let lastError: string | undefined;
  let lastMessageAt: Date | undefined;
  let loop: Promise<void> = Promise.resolve();

  function markConnected(): void {
    if (isClosed()) return;
    state = 'reading';
    connected = true;
    lastError = undefined;
  }

  /** Records a Redis failure for `status()` and `check()`. */
  function markFailed(err: unknown, connection: RedisConnection): void {
    failures += 1;
    state = 'waiting';
    connected = false;
    lastError = describeRedisFailure(err, connection);
  }

  /** Records a failed read and waits before the next; returns early when closed. */
  async function pause(err: unknown, connection: RedisConnection, attempt: number): Promise<void> {
    markFailed(err, connection);
    const waitMs = reconnectBackoff(attempt);
    const fields = { err, attempt, waitMs, kind: classifyRedisError(err) };
    if (fields.kind === 'auth') logger.error(fields, `Redis at ${connection.where} refused our credentials; retrying`);
    else if (attempt === 1) logger.warn(fields, `Redis at ${connection.where} failed; retrying`);
    else logger.debug(fields, 'Redis still failing; retrying');
    await sleep(waitMs, runner.signal);
  }

  function toMessage(entry: StreamEntry & { readonly fields: readonly string[] }): InboundMessage {
    const eventAt = entry.fields.findIndex((field, i) => i % 2 === 0 && field === 'event');
    const event = eventAt === -1 ? undefined : entry.fields[eventAt + 1];
    // Without an envelope the raw field list goes on, as JSON no decoder accepts, so it is dead-lettered.
    return { id: entry.id, text: event ?? JSON.stringify(entry.fields), receivedAt: now() };
  }

  /** Dead-letters the rejections and acknowledges the batch in one MULTI, retried until done or closed. */
  async function settle(connection: RedisConnection, ids: readonly string[], rejected: readonly Rejection[]): Promise<void> {
    const done = await runner.retry(`acknowledge ${String(ids.length)} entries (the batch stays pending)`, async () => {
      const at = now().toISOString();
      const transaction = connection.client.multi();
      for (const { message, reason } of rejected) {
        transaction.xadd(deadLetterStream, '*',
          'reason', reason, 'text', message.text, 'stream', stream, 'group', group, 'entryId', message.id, 'consumer', consumer, 'at', at);
      }
      transaction.xack(stream, group, ...ids);
      const results = await transaction.exec();
      if (results === null) throw new Error('Redis discarded the MULTI');
      const failed = results.find(([err]) => err !== null)?.[0];
      if (failed !== undefined && failed !== null) throw failed;
    }, {
      subject: `the batch starting at entry ${ids[0] ?? ''}`,
      backoff: reconnectBackoff,
      onFailure: (err) => {
        markFailed(err, connection);
      },
    });
    if (!done) {
      logger.warn({ firstId: ids[0], count: ids.length }, 'closed before the batch was acknowledged; it stays pending for the next member');
      return;
    }
    markConnected();
    acknowledged += ids.length;
    deadLettered += rejected.length;
    for (const { message, reason } of rejected) {
      logger.warn({ entryId: message.id, reason, message: { id: message.id, text: message.text.slice(0, 2000) } }, 'dead-lettered an entry');
    }
  }

  /** A batch as read: every entry (trimmed ones too, to acknowledge them) and the messages to handle. */
  interface ReadBatch extends PulledBatch {
    readonly entries: readonly StreamEntry[];
  }

  /** Reads the group in its order (group-reader.ts); a failure is waited out here. */
  function readFrom(opened: GroupSession): PullAdapter<ReadBatch> {
    const reader = createGroupReader(opened, { ...member, batchSize, maxBatchSize, blockMs, claimIdleMs, watchIntervalMs, logger });
    let attempt = 0;
    return {
      // The next read overlaps the handler and the acknowledgement; what it took stays pending until acknowledged.
      prefetch: true,
      async next() {
        try {
          const entries = await reader.read();
          markConnected();
          attempt = 0;
          if (entries.length === 0 || isClosed()) return undefined;
          const messages = entries.flatMap((e) => (e.fields === null ? [] : [toMessage({ id: e.id, fields: e.fields })]));
          if (messages.length > 0) {
            lastMessageAt = messages[messages.length - 1]?.receivedAt;
            logger.debug({ size: messages.length, firstId: messages[0]?.id }, 'delivering a batch');
          }
          return { entries, messages };
        } catch (err) {
          if (isClosed()) return undefined;
          attempt += 1;
          await pause(err, reader.connection(), attempt);
          return undefined;
        }
      },
      settle: (batch, result) => settle(opened.commands, batch.entries.map((e) => e.id), result.rejected),
    };
  }

  return {
    async start(handler, hooks) {
      runner.begin(handler, hooks);
      state = 'connecting';
      const opened: GroupSession = {
        commands: openRedisConnection({ url: options.url, name: `tweetbus-source:${consumer}`, reconnectBackoff, logger }),
        blocking: openRedisConnection({ url: options.url, name: `tweetbus-source-read:${consumer}`, reconnectBackoff, logger }),
      };
      try {
        await createGroup(opened.commands, member, logger);
      } catch (err) {
        await Promise.all([opened.commands.close(), opened.blocking.close()]);
        runner.reset();
        state = 'idle';
        lastError = describeRedisFailure(err, opened.commands);
        throw toTransportError(err, opened.commands);
      }
      session = opened;
      markConnected();
      logger.info({ deadLetterStream, batchSize, maxBatchSize, claimIdleMs }, 'started');
      loop = runner.pull(readFrom(opened));
    },
    status() {
      return { state, connected, stream, group, consumer, acknowledged, deadLettered, failures, lastError, lastMessageAt };
    },
    /** Ready while Redis answers and the last command succeeded; otherwise the error says why. */
    async check() {
      if (isClosed()) throw new Error('the Redis Streams source is closed');
      if (session === undefined) throw new Error('the Redis Streams source has not started');
      await pingRedis(session.commands, checkTimeoutMs);
      if (!connected) throw new Error(`the Redis Streams source is ${state}${lastError === undefined ? '' : ` (last error: ${lastError})`}`);
    },
    close() {
      return runner.close(async () => {
        const current = session;
        if (current !== undefined) {
          current.blocking.client.disconnect();
          await loop;
          await handBack(current.commands, member, claimIdleMs, logger);
          await Promise.all([current.commands.close(), current.blocking.close()]);
        }
        state = 'closed';
        connected = false;
        logger.info({ acknowledged, deadLettered }, 'closed');
      });
    },
  };
}

function positiveInteger(name: string, value: number): string[] {
  return Number.isSafeInteger(value) && value > 0 ? [] : [`${name} must be a positive integer, got ${value}`];
}
