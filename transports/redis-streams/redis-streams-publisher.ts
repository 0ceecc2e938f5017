import { defaultExponentialBackoff } from '../../common/backoff.js';
import { ConfigError, TransportError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { ChangeEvent } from '../../events/envelope.js';
import { encodeEventJson } from '../../events/json-codec.js';
import type { EventPublisher, HealthCheck, TransportLoss } from '../transport.js';
import { createStreamLossWatch } from './stream-loss.js';
import { defaultStreamName, openRedisConnection, pingRedis, toTransportError } from './redis-client.js';

export interface RedisStreamsPublisherOptions {
  /**
   * The publisher builds and closes its own client: it relies on settings a shared client may not
   * have (RESP2 replies, commands that fail at once while the connection is down).
   */
  readonly url: string;
  /** Default `tweetbus:events`. */
  readonly stream?: string | undefined;
  /**
   * Approximate cap on the stream's length (`XADD MAXLEN ~`). Default 1,000,000. Entries beyond it are
   * trimmed whether or not every group has read them: a group further behind than this loses the
   * oldest entries, so size it for the longest outage a consumer should survive.
   */
  readonly maxLen?: number | undefined;
  readonly logger: Logger;
  /** Deadline of `check()`'s PING. Default 2 s. */
  readonly checkTimeoutMs?: number | undefined;
  /** The publisher's signature of each event (TRUST_HMAC_KEY), written into the envelope as `signature`. */
  readonly sign?: ((event: ChangeEvent) => string) | undefined;
  /** How often the stream's counters are read to notice that it lost entries (`onLoss`). Default 2 s. */
  readonly watchIntervalMs?: number | undefined;
}

/**
 * A stream entry's id is Redis's clock; `published_at` in the outbox is the database's. Events are
 * published again from this much before the first one that may be lost, so clock skew loses nothing.
 */
export const lossSkewMarginMs = 60_000;

export type RedisStreamsPublisher = EventPublisher & HealthCheck & Required<Pick<EventPublisher, 'onLoss'>>;

/** Where Redis is; the publisher builds and closes its own client on it. */
export type RedisStreamsPublisherConnection = Pick<RedisStreamsPublisherOptions, 'url'>;
/** Everything else the factory takes: the logger (required), names, limits, clocks. */
export type RedisStreamsPublisherSettings = Omit<RedisStreamsPublisherOptions, 'url'>;

/**
 * Publishes each event as one stream entry, `XADD stream MAXLEN ~ n * event <json> key <collection/key>`.
 * The JSON envelope is the message; the key lets an operator find a row's changes in the stream
 * (`XRANGE`) without decoding it. The event's id, type and version are in the envelope only: every
 * field is one more string for each consumer to read, and the three of them cost the consumer 7-14%
 * of its rate into PostgreSQL (side by side, 50,000 events).
 *
 * A batch is one pipeline: one round trip, entries appended in order. `publish` resolves once every
 * XADD has returned. On a failure `TransportError.published` counts the leading XADDs that returned;
 * later ones may have been appended too, so a retry can duplicate them (at least once).
 *
 * An XADD that returned is not forever: Redis without persistence loses the stream when it restarts,
 * and MAXLEN trims entries a lagging group has not read. Every `watchIntervalMs` the publisher reads
 * the stream's counters (`findStreamLoss`); when entries no group had read are gone, it logs an error
 * saying from when, and tells `onLoss` listeners, which publish those events again from the outbox.
 */
export function createRedisStreamsPublisher(redis: RedisStreamsPublisherConnection, settings: RedisStreamsPublisherSettings): RedisStreamsPublisher {
  const options: RedisStreamsPublisherOptions = { ...redis, ...settings };
  const stream = options.stream ?? defaultStreamName;
  const maxLen = options.maxLen ?? 1_000_000;
  if (!Number.isSafeInteger(maxLen) || maxLen < 1) throw new ConfigError([`maxLen must be a positive integer, got ${maxLen}`]);
  const checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
  const logger = options.logger.child({ component: 'redisStreamsPublisher', stream });
  const connection = openRedisConnection({
    url: options.url,
    name: 'tweetbus-publisher',
    reconnectBackoff: defaultExponentialBackoff({ initialMs: 100, maxMs: 5_000 }),
    logger,
  });
  let closed = false;
  const lossListeners: ((loss: TransportLoss) => void)[] = [];
  const watchIntervalMs = options.watchIntervalMs ?? 2_000;
  const lossWatch = createStreamLossWatch(connection, stream);
  let watching = false;

  async function watch(): Promise<void> {
    if (watching || closed) return;
    watching = true;
    try {
      const finding = await lossWatch.check();
      if (!lossWatch.supported()) {
        logger.warn('Redis does not report the stream\'s counters (it is older than 7.0): a stream it loses cannot be noticed');
        clearInterval(watchTimer);
        return;
      }
      if (finding === undefined) return;
      const since = finding.sinceMs === undefined ? undefined : new Date(finding.sinceMs - lossSkewMarginMs);
      logger.error(
        { kind: finding.kind, since: since?.toISOString() ?? 'any time', reason: finding.reason, listeners: lossListeners.length },
        `the stream lost entries no consumer had read: ${finding.reason}. The events published ${since === undefined ? 'at any time' : `since ${since.toISOString()}`} are published again from the outbox`,
      );
      for (const listener of lossListeners) listener({ reason: finding.reason, since });
    } catch (err) {
      logger.debug({ err }, 'could not read the stream\'s counters; trying again');
    } finally {
      watching = false;
    }
  }
  const watchTimer = watchIntervalMs > 0 ? setInterval(() => void watch(), watchIntervalMs) : undefined;
  watchTimer?.unref();

  function entryFields(event: ChangeEvent): string[] {
    return [
      'event', encodeEventJson(event, options.sign),
      'key', `${event.collection}/${event.key}`,
    ];
  }

  return {
    async publish(events) {
      if (closed) throw new TransportError('invalid', 'this Redis Streams publisher is closed');
      if (events.length === 0) return;
      const pipeline = connection.client.pipeline();
      for (const event of events) pipeline.xadd(stream, 'MAXLEN', '~', maxLen, '*', ...entryFields(event));
      let results: [Error | null, unknown][] | null;
      try {
        results = await pipeline.exec();
      } catch (err) {
        throw toTransportError(err, connection);
      }
      if (results === null) throw new TransportError('retryable', `Redis at ${connection.where} returned no replies for the batch`);
      const failedAt = results.findIndex(([err]) => err !== null);
      if (failedAt === -1) {
        logger.debug({ count: events.length, firstId: events[0]?.id }, 'published');
        return;
      }
      throw toTransportError(results[failedAt]?.[0], connection, failedAt);
    },
    check: () => pingRedis(connection, checkTimeoutMs),
    onLoss(listener) {
      lossListeners.push(listener);
    },
    async close() {
      closed = true;
      clearInterval(watchTimer);
      await connection.close();
    },
  };
}
