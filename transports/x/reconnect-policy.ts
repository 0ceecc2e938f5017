import type { TwitterApi } from 'twitter-api-v2';
import { defaultExponentialBackoff, linearBackoff, type Backoff } from '../../common/backoff.js';
import type { Logger } from '../../common/logger.js';
import { StreamHttpError } from './stream-reader.js';
import { classifyStatus, classifyXError, problemText, type XFailure } from './x-errors.js';

/** How long to wait before reconnect attempt `n` of each kind of failure. Tests inject short ones. */
export interface XReconnectBackoff {
  /** Network errors, drops and stalls after the one immediate retry. X: +250 ms a try, up to 16 s. */
  readonly network: Backoff;
  /** HTTP errors (401, 403, 409, 5xx...). X: exponential from 5 s, up to 320 s. */
  readonly http: Backoff;
  /** 429. X: exponential from 1 minute. */
  readonly rateLimit: Backoff;
}

export function defaultXReconnectBackoff(): XReconnectBackoff {
  return {
    network: linearBackoff({ stepMs: 250, maxMs: 16_000 }),
    http: defaultExponentialBackoff({ initialMs: 5_000, maxMs: 320_000 }),
    rateLimit: defaultExponentialBackoff({ initialMs: 60_000, maxMs: 15 * 60_000 }),
  };
}

/** A network failure while opening the stream, told apart from library errors by the backoff. */
export class StreamNetworkError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'StreamNetworkError';
  }
}

/** What to do after a failure to connect or catch up. */
export interface ReconnectDecision {
  readonly waitMs: number;
  /** Why, in words that say what to fix (for `status()` and `/readyz`). */
  readonly reason: string;
  /** X said the app has no rules (409): ensure the rule again before reconnecting. */
  readonly ensureRule: boolean;
}

/**
 * X's reconnect rules for the filtered stream, with the attempts each kind of failure has used:
 * one immediate reconnect after a drop, then linear backoff for network errors, exponential for HTTP
 * errors and longer for 429s (until the announced reset when the window is used up). A
 * TooManyConnections 429 clears the app's stale connections once. A connection that stayed up long
 * enough starts the counts over.
 */
export interface ReconnectPolicy {
  afterFailure(err: unknown): Promise<ReconnectDecision>;
  /** After the stream ended on its own: the first time at once, then network backoff. */
  afterEnd(): number;
  /** The connection was stable: everything starts over. */
  stable(): void;
}

export function createReconnectPolicy(options: { backoff: XReconnectBackoff; client: TwitterApi; logger: Logger; now: () => Date }): ReconnectPolicy {
  const { backoff, client, logger, now } = options;
  const attempts = { network: 0, http: 0, rateLimit: 0 };
  let immediateAvailable = true;
  let connectionsCleared = false;

  return {
    async afterFailure(err) {
      const at = now();
      let failure: XFailure;
      let tooManyConnections = false;
      let ensureRule = false;
      if (err instanceof StreamHttpError) {
        failure = classifyStatus(err.status, err.body, err.headers, at);
        ensureRule = err.status === 409;
        tooManyConnections = err.status === 429 && /TooManyConnections|connection limit/i.test(problemText(err.body) + JSON.stringify(err.body));
      } else if (err instanceof StreamNetworkError) {
        failure = { kind: 'retryable', status: undefined, message: `stream connection failed: ${err.message}` };
      } else {
        failure = classifyXError(err, at);
      }
      if (failure.kind === 'auth') logger.error({ err, status: failure.status }, failure.message);
      else logger.warn({ err, status: failure.status, kind: failure.kind }, failure.message);
      if (tooManyConnections && !connectionsCleared) {
        connectionsCleared = true;
        try {
          await client.v2.delete('connections/all');
          logger.warn('X counted a stale stream connection; asked it to close all of this app\'s connections');
        } catch (deleteErr) {
          logger.warn({ err: deleteErr }, 'could not clear the stale stream connections');
        }
      }
      let waitMs: number;
      if (failure.kind === 'rateLimited') {
        attempts.rateLimit += 1;
        const untilReset = failure.resetAt === undefined ? 0 : failure.resetAt.getTime() - at.getTime();
        const windowUsedUp = err instanceof StreamHttpError && err.headers['x-rate-limit-remaining'] === '0';
        const fromPolicy = backoff.rateLimit(attempts.rateLimit);
        waitMs = windowUsedUp || !(err instanceof StreamHttpError) ? Math.max(fromPolicy, untilReset) : fromPolicy;
      } else if (failure.status === undefined) {
        attempts.network += 1;
        waitMs = backoff.network(attempts.network);
      } else {
        attempts.http += 1;
        waitMs = backoff.http(attempts.http);
      }
      return { waitMs, reason: failure.message, ensureRule };
    },
    afterEnd() {
      if (immediateAvailable) {
        immediateAvailable = false;
        return 0;
      }
      attempts.network += 1;
      return backoff.network(attempts.network);
    },
    stable() {
      attempts.network = 0;
      attempts.http = 0;
      attempts.rateLimit = 0;
      immediateAvailable = true;
      connectionsCleared = false;
    },
  };
}
