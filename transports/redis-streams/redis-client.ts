import { Redis } from 'ioredis';
import type { Backoff } from '../../common/backoff.js';
import { TransportError, type TransportErrorKind } from '../../common/errors.js';
import { redactUrl, type Logger } from '../../common/logger.js';
import { within } from '../../common/timeout.js';

/** The stream the publisher writes and sources read unless told otherwise. */
export const defaultStreamName = 'tweetbus:events';

/**
 * One ioredis client as the Redis Streams adapters need it, with what a failed command does not say:
 * ioredis reports why the connection is down on its `error` event, while the command itself only
 * fails with "Connection is closed" or "max retries per request".
 */
export interface RedisConnection {
  readonly client: Redis;
  /** The URL without its password, for messages and logs. */
  readonly where: string;
  /** Why the connection is down, or `undefined` while it is up. */
  lastError(): Error | undefined;
  /** Releases the client; pending commands fail. Calling it twice is harmless. */
  close(): Promise<void>;
}

export interface RedisConnectionOptions {
  readonly url: string;
  /** Shown in `CLIENT LIST`. */
  readonly name: string;
  /** Delay before reconnect attempt `n`; ioredis keeps reconnecting until `close()`. */
  readonly reconnectBackoff: Backoff;
  readonly logger: Logger;
}

export function openRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const where = redactUrl(options.url);
  const client = new Redis(options.url, {
    // The reply shapes parsed by the adapters are RESP2's (RESP3 turns XREADGROUP's reply into a map).
    protocol: 2,
    // Nothing connects before the first command or `connect()`, so a client built and never used holds nothing.
    lazyConnect: true,
    // A command fails after one failed connection attempt instead of waiting in ioredis's queue:
    // `publish` must not hang, and the source retries with its own backoff and reports its state.
    maxRetriesPerRequest: 0,
    // A command whose reply was lost is retried by our own loops, never resent behind our back.
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => options.reconnectBackoff(times),
    connectionName: options.name.replace(/[^\w.:-]/g, '_'),
  });
  let lastError: Error | undefined;
  let down = false;
  client.on('error', (err: unknown) => {
    lastError = err instanceof Error ? err : new Error(String(err));
    if (down) {
      options.logger.debug({ err: lastError }, `Redis at ${where} is still unreachable; reconnecting`);
      return;
    }
    down = true;
    options.logger.warn({ err: lastError }, `lost the connection to Redis at ${where}; reconnecting`);
  });
  client.on('ready', () => {
    if (down) options.logger.info(`connected to Redis at ${where} again`);
    down = false;
    lastError = undefined;
  });
  let closing: Promise<void> | undefined;
  return {
    client,
    where,
    lastError: () => lastError,
    close() {
      closing ??= (async () => {
        if (client.status === 'ready') {
          // QUIT lets replies in flight arrive; a server that does not answer is cut off.
          await within(client.quit(), 1_000, 'Redis QUIT').catch(() => undefined);
        }
        client.disconnect();
      })();
      return closing;
    },
  };
}

/** A reply Redis sent (as opposed to a connection that failed): its first word, e.g. `WRONGTYPE`, `NOGROUP`. */
export function replyCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return undefined;
  return /^[A-Z]+/.exec(err.message)?.[0] ?? 'ERR';
}

/** Requests that will fail the same way however often they are sent. */
const badRequest = /^(WRONGTYPE|ERR (syntax|wrong number|invalid|unknown command|value is not))/i;

/**
 * How a Redis failure should be handled. A failed connection, a timeout, or a reply meaning "not now"
 * (LOADING, READONLY, OOM, BUSY, MASTERDOWN...) is retryable; wrong credentials or missing
 * permissions need an operator; a malformed command or a key of the wrong type is invalid.
 */
export function classifyRedisError(err: unknown): TransportErrorKind {
  const code = replyCode(err);
  if (code === undefined) return 'retryable';
  if (code === 'NOAUTH' || code === 'WRONGPASS' || code === 'NOPERM') return 'auth';
  if (err instanceof Error && badRequest.test(err.message)) return 'invalid';
  return 'retryable';
}

/** Why a command failed, in words: the reply, or for a connection failure the reason ioredis gave. */
export function describeRedisFailure(err: unknown, connection: RedisConnection): string {
  const message = err instanceof Error ? err.message : String(err);
  if (replyCode(err) !== undefined) return message;
  return connection.lastError()?.message ?? message;
}

/** A classified TransportError for a failed command; connection failures name the (redacted) URL. */
export function toTransportError(err: unknown, connection: RedisConnection, published = 0): TransportError {
  const kind = classifyRedisError(err);
  const reason = describeRedisFailure(err, connection);
  const message = replyCode(err) === undefined
    ? `Redis is not reachable at ${connection.where}: ${reason}`
    : `Redis at ${connection.where} refused the command: ${reason}`;
  return new TransportError(kind, message, { cause: err, published });
}

/** PING with a deadline, for `check()`. Throws an Error naming the (redacted) URL and the reason. */
export async function pingRedis(connection: RedisConnection, timeoutMs: number): Promise<void> {
  try {
    await within(connection.client.ping(), timeoutMs, 'PING');
  } catch (err) {
    throw new Error(`Redis is not reachable at ${connection.where}: ${describeRedisFailure(err, connection)}`, { cause: err });
  }
}

/**
 * Deletes streams, with their consumer groups (`--fresh`, the bench's cleanup). One connection attempt:
 * a Redis that is not there fails at once, with the reason ioredis gives on its `error` event.
 */
export async function deleteStreams(url: string, keys: readonly string[]): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let reason: unknown;
  redis.on('error', (err: unknown) => {
    reason = err;
  });
  try {
    await redis.connect();
    await redis.del(...keys);
  } catch (err) {
    // The command says only "Connection is closed"; the `error` event said why.
    throw new Error(`could not delete the streams at ${redactUrl(url)}: ${String(reason ?? err)}`, { cause: err });
  } finally {
    redis.disconnect();
  }
}
