import type { TwitterApi } from 'twitter-api-v2';
import { z } from 'zod';
import { sleep, type Backoff } from '../../common/backoff.js';
import type { Logger } from '../../common/logger.js';
import type { ChangeEvent } from '../../events/envelope.js';
import { encodePosts, type HashtagMap } from '../../events/post-codec.js';
import type { EventPublisher } from '../transport.js';
import { createUserClient, createXEndpoint, type XConnectionOptions, type XEndpoint, type XUserCredentials } from './x-client.js';
import { classifyXError, toTransportError } from './x-errors.js';

export interface XPublisherOptions extends XConnectionOptions {
  readonly hashtags: HashtagMap;
  readonly logger: Logger;
  /** Required unless `client` is given. */
  readonly credentials?: XUserCredentials | undefined;
  /** A client built by the caller (it keeps ownership); otherwise one is built from `credentials`. */
  readonly client?: TwitterApi | undefined;
  readonly maxWeightedLength?: number | undefined;
  /** Signs each event (`_h`), so the consumer can tell the publisher's posts from hand-typed ones. */
  readonly sign?: ((event: ChangeEvent) => string) | undefined;
  /** Tries per post for network errors, timeouts and 5xx, the first included. Default 3. */
  readonly maxAttempts?: number | undefined;
  readonly retryBackoff?: Backoff | undefined;
  readonly now?: (() => Date) | undefined;
}

const createdSchema = z.object({ data: z.object({ id: z.string(), text: z.string().optional() }).loose() }).loose();

/**
 * Publishes events as posts (POST /2/tweets with the user's OAuth 1.0a tokens), one post after the
 * other, in order.
 *
 * A post whose outcome is unknown (network error, timeout, 5xx) is sent again with the same text.
 * X answers a repeat with 403 "duplicate content"; because every post carries its events' unique ids,
 * a duplicate means the post is already out, so it counts as acknowledged.
 */
export function createXPublisher(options: XPublisherOptions): EventPublisher {
  const logger = options.logger.child({ component: 'xPublisher' });
  const now = options.now ?? (() => new Date());
  const maxAttempts = options.maxAttempts ?? 3;
  const retryBackoff = options.retryBackoff ?? ((attempt: number) => 500 * attempt);
  let endpoint: XEndpoint | undefined;
  let client: TwitterApi;
  if (options.client !== undefined) {
    client = options.client;
  } else {
    if (options.credentials === undefined) throw new Error('createXPublisher needs credentials or a client');
    endpoint = createXEndpoint(options);
    client = createUserClient(options.credentials, endpoint, options.requestTimeoutMs);
  }
  const closing = new AbortController();
  let closed = false;

  async function postOne(text: string, events: readonly ChangeEvent[], published: number): Promise<void> {
    const eventIds = events.map((e) => e.id);
    let outcomeUnknown = false;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response: unknown = await client.v2.tweet(text);
        const created = createdSchema.safeParse(response);
        logger.info({ postId: created.success ? created.data.data.id : undefined, eventIds, attempt }, 'posted');
        return;
      } catch (err) {
        const failure = classifyXError(err, now());
        if (failure.kind === 'duplicate') {
          logger.warn(
            { eventIds, attempt, outcomeUnknown },
            outcomeUnknown
              ? 'X refused the retry as a duplicate: the earlier attempt went out; counting it as posted'
              : 'X refused the post as a duplicate: it is already out (each post carries unique event ids); counting it as posted',
          );
          return;
        }
        if (failure.kind === 'retryable' && attempt < maxAttempts && !closed) {
          outcomeUnknown = true;
          logger.warn({ err, eventIds, attempt, status: failure.status }, 'posting failed; retrying with the same text');
          await sleep(retryBackoff(attempt), closing.signal);
          continue;
        }
        throw toTransportError(failure, err, published);
      }
    }
  }

  return {
    async publish(events) {
      if (closed) throw new Error('the X publisher is closed');
      const posts = encodePosts(events, {
        hashtags: options.hashtags,
        ...(options.maxWeightedLength === undefined ? {} : { maxWeightedLength: options.maxWeightedLength }),
        ...(options.sign === undefined ? {} : { sign: options.sign }),
      });
      let published = 0;
      for (const post of posts) {
        await postOne(post.text, post.events, published);
        published += post.events.length;
      }
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      closing.abort();
      endpoint?.close();
      return Promise.resolve();
    },
  };
}
