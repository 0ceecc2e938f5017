import type { TwitterApi } from 'twitter-api-v2';
import type { Logger } from '../../common/logger.js';
import type { InboundMessage } from '../../events/message.js';
import { postFields, searchPageSchema, toInboundMessage } from './payloads.js';
import { compareIds, snowflakeAt, snowflakeTimestampMs } from './snowflake.js';

/** Recent search reaches back 7 days; older posts cannot be recovered by a catch-up. */
export const recentSearchWindowMs = 7 * 24 * 60 * 60 * 1000;

/** Without a checkpoint, the catch-up searches the last hour (X_CATCH_UP_ON_FIRST_START). */
export const defaultFirstStartCatchUpMs = 3_600_000;

export interface CatchUpOptions {
  readonly client: TwitterApi;
  /** The stream rule's value: the search finds what the stream would have delivered. */
  readonly query: string;
  /** How far before the checkpoint's post the search starts (posts arrive slightly out of id order). */
  readonly overlapMs: number;
  readonly now: () => Date;
  readonly logger: Logger;
  /** Stops paging early when it turns true (the source closed). */
  readonly stopped: () => boolean;
}

/**
 * The post id a catch-up searches from: a little before the checkpoint, or without one the floor
 * (the start less X_CATCH_UP_ON_FIRST_START); never before the 7 days recent search reaches.
 */
export function catchUpSinceId(checkpoint: string | undefined, floor: string | undefined, options: Pick<CatchUpOptions, 'overlapMs' | 'now' | 'logger'>): string | undefined {
  let since = checkpoint !== undefined ? snowflakeAt(snowflakeTimestampMs(checkpoint) - options.overlapMs) : floor;
  const oldestReachable = options.now().getTime() - recentSearchWindowMs + 60_000;
  if (since !== undefined && snowflakeTimestampMs(since) < oldestReachable) {
    options.logger.warn({ checkpoint }, 'the checkpoint is older than the 7 days recent search reaches back; older posts cannot be recovered');
    since = snowflakeAt(oldestReachable);
  }
  return since;
}

/** Every post the stream rule matches after `sinceId`, by recent search across pages, oldest first. */
export async function searchSince(sinceId: string | undefined, options: CatchUpOptions): Promise<InboundMessage[]> {
  const { client, logger, now } = options;
  const found: InboundMessage[] = [];
  let page = await client.v2.search(options.query, {
    ...(sinceId === undefined ? {} : { since_id: sinceId }),
    max_results: 100,
    'tweet.fields': [...postFields],
    expansions: ['author_id'],
    'user.fields': ['username'],
  });
  for (let pages = 1; ; pages += 1) {
    const body: unknown = page.data;
    const parsed = searchPageSchema.safeParse(body);
    if (!parsed.success) throw new Error('X answered the recent search in an unexpected shape');
    for (const post of parsed.data.data ?? []) found.push(toInboundMessage(post, parsed.data.includes, now()));
    if (page.done || options.stopped() || parsed.data.meta?.next_token === undefined) break;
    page = await page.next(100);
    if (pages % 20 === 0) logger.info({ pages, found: found.length }, 'still catching up');
  }
  return found.sort((a, b) => compareIds(a.id, b.id));
}
