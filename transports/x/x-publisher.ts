import type { TwitterApi } from 'twitter-api-v2';
import { z } from 'zod';
import { sleep, type Backoff } from '../../common/backoff.js';
import type { Logger } from '../../common/logger.js';
import type { ChangeEvent } from '../../events/envelope.js';
import { encodePosts, type HashtagMap } from './post-codec.js';
import { TransportError } from '../../common/errors.js';
import type { EventPublisher, HealthCheck } from '../transport.js';
import { searchPageSchema } from './payloads.js';
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
  /**
   * Before each recent search for a post X refused as a duplicate, wait this long: the search index
   * lags the post by a few seconds. Default 1 s, 2 s, 4 s (three searches).
   */
  readonly duplicateSearchDelaysMs?: readonly number[] | undefined;
}

/** Posting, and `check()`: fails while the last post ended in a way an operator must see. */
export type XPublisher = EventPublisher & HealthCheck;

const createdSchema = z.object({ data: z.object({ id: z.string(), text: z.string().optional() }).loose() }).loose();
const meSchema = z.object({ data: z.object({ id: z.string() }).loose() }).loose();

/** Where X is and how to reach it: the API URL, a CA to trust, the user's credentials or a client of the caller's. */
export type XPublisherConnection = Pick<XPublisherOptions, 'apiUrl' | 'ca' | 'requestTimeoutMs' | 'credentials' | 'client'>;
/** Everything else the factory takes: the logger (required), names, limits, clocks. */
export type XPublisherSettings = Omit<XPublisherOptions, 'apiUrl' | 'ca' | 'requestTimeoutMs' | 'credentials' | 'client'>;

/**
 * Publishes events as posts (POST /2/tweets with the user's OAuth 1.0a tokens), one post after the
 * other, in order.
 *
 * A post whose outcome is unknown (network error, timeout, 5xx) is sent again with the same text.
 * X answers a repeat with 403 "duplicate content". Every post carries its events' unique ids, so a
 * duplicate should mean the post is already out, but X's word alone is not taken for it: the post is
 * looked up by recent search (our account, the first event id) and counts as acknowledged only when
 * it is found carrying every event id. When it is not found, the publish fails (and is retried), the
 * log says so at error level, and `check()` fails until a post goes through.
 */
export function createXPublisher(connection: XPublisherConnection, settings: XPublisherSettings): XPublisher {
  const options: XPublisherOptions = { ...connection, ...settings };
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
  const duplicateSearchDelaysMs = options.duplicateSearchDelaysMs ?? [1_000, 2_000, 4_000];
  let ownUserId: string | undefined;
  /** What the last post left for an operator to see (refused credentials, an unconfirmed duplicate). */
  let problem: string | undefined;

  /** Our own post carrying every one of `eventIds`, looked up by recent search: its id, or undefined. */
  async function findOwnPost(eventIds: readonly string[]): Promise<string | undefined> {
    ownUserId ??= meSchema.parse(await client.v2.me()).data.id;
    const query = `from:${ownUserId} "${eventIds[0] ?? ''}"`;
    for (const delayMs of duplicateSearchDelaysMs) {
      await sleep(delayMs, closing.signal);
      if (closed) return undefined;
      const page = await client.v2.search(query, { max_results: 10, 'tweet.fields': ['author_id'] });
      const body = searchPageSchema.parse(page.data);
      const post = (body.data ?? []).find((p) => p.author_id === ownUserId && eventIds.every((id) => p.text.includes(id)));
      if (post !== undefined) return post.id;
    }
    return undefined;
  }

  /** After X called a post a duplicate: returns when recent search shows it out, else throws. */
  async function confirmDuplicate(err: unknown, eventIds: readonly string[], attempt: number, published: number): Promise<void> {
    let found: string | undefined;
    let searchError: unknown;
    try {
      found = await findOwnPost(eventIds);
    } catch (caught) {
      searchError = caught;
    }
    if (found !== undefined) {
      logger.warn({ eventIds, attempt, postId: found }, 'X refused the post as a duplicate, and recent search shows it out: counting it as posted');
      return;
    }
    const message =
      searchError === undefined
        ? `X refused a post as a duplicate, but recent search does not find it: its events (${eventIds.join(', ')}) may never have gone out; they stay in the outbox and are tried again`
        : `X refused a post as a duplicate, and the recent search to confirm it failed: its events (${eventIds.join(', ')}) stay in the outbox and are tried again`;
    problem = message;
    logger.error({ err: searchError ?? err, eventIds, attempt }, message);
    throw new TransportError('retryable', message, { cause: searchError ?? err, published });
  }

  async function postOne(text: string, events: readonly ChangeEvent[], published: number): Promise<void> {
    const eventIds = events.map((e) => e.id);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response: unknown = await client.v2.tweet(text);
        const created = createdSchema.safeParse(response);
        problem = undefined;
        logger.info({ postId: created.success ? created.data.data.id : undefined, eventIds, attempt }, 'posted');
        return;
      } catch (err) {
        const failure = classifyXError(err, now());
        if (failure.kind === 'duplicate') {
          await confirmDuplicate(err, eventIds, attempt, published);
          problem = undefined;
          return;
        }
        if (failure.kind === 'auth') problem = failure.message;
        if (failure.kind === 'retryable' && attempt < maxAttempts && !closed) {
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
    check() {
      return problem === undefined ? Promise.resolve() : Promise.reject(new Error(problem));
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
