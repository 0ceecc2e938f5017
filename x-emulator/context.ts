import type { Logger } from '../common/logger.js';
import type { JsonObject } from '../events/json.js';
import type { FaultQueue } from './faults.js';
import { renderIncludes, renderPost, type FieldSelection } from './fields.js';
import type { PageUser } from './page.js';
import type { Route } from './routing.js';
import type { XEmulatorFaults, EmulatorPostSummary } from './server.js';
import { usernamePattern, type CreatePostResult, type EmulatorState, type StoredPost, type StoredRule, type StoredUser } from './state.js';
import type { StreamHub } from './streams.js';

/** What every route file of the emulator is given: its state, its stream hub and the route wrapper. */
export interface EmulatorContext {
  readonly logger: Logger;
  readonly now: () => Date;
  readonly newId: () => string;
  readonly state: EmulatorState;
  readonly hub: StreamHub;
  /** The user the OAuth 1.0a credentials act for. */
  readonly owner: StoredUser;
  readonly appKey: string;
  readonly route: Route;
  readonly faultQueue: FaultQueue;
  readonly faults: XEmulatorFaults;
  /** Makes a post as `author` and delivers it to the streams whose rules match. */
  readonly createPost: (author: StoredUser, text: string) => CreatePostResult;
  readonly latestPosts: (limit?: number) => EmulatorPostSummary[];
  /** The users the page offers to post as. */
  readonly pageUsers: readonly PageUser[];
}

/** Why `handPost` (or POST /_emulator/posts) refused a post. */
export class HandPostError extends Error {
  readonly reason: Exclude<CreatePostResult, { ok: true }>['reason'] | 'invalidUsername';
  constructor(reason: HandPostError['reason'], message: string) {
    super(message);
    this.name = 'HandPostError';
    this.reason = reason;
  }
}

export function ruleJson(rule: StoredRule): JsonObject {
  return rule.tag === undefined ? { id: rule.id, value: rule.value } : { id: rule.id, value: rule.value, tag: rule.tag };
}

/** Posting: a post is stored, then written to every open stream whose rules it matches. */
export function createPosting(state: EmulatorState, hub: StreamHub, logger: Logger) {
  const streamMessage = (post: StoredPost, selection: FieldSelection, matching: readonly StoredRule[]): string => {
    const message: JsonObject = { data: renderPost(post, selection) };
    const includes = renderIncludes([post], selection, state.userById);
    if (includes !== undefined) message.includes = includes;
    message.matching_rules = matching.map((rule): JsonObject => (rule.tag === undefined ? { id: rule.id } : { id: rule.id, tag: rule.tag }));
    return JSON.stringify(message);
  };

  const createPost = (author: StoredUser, text: string) => {
    const result = state.createPost(author, text);
    if (!result.ok) {
      logger.info({ reason: result.reason, authorId: author.id }, 'post refused');
      return result;
    }
    const { post } = result;
    const matching = state.matchingRules(post);
    const delivered = matching.length === 0 ? 0 : hub.publish((selection) => streamMessage(post, selection, matching));
    logger.info({ postId: post.id, authorId: author.id, rules: matching.length, delivered }, 'post created');
    logger.debug({ post: { id: post.id, text: post.text } }, 'post text');
    return result;
  };

  const handPost = (username: string, text: string): { id: string; text: string } => {
    if (!usernamePattern.test(username)) {
      throw new HandPostError('invalidUsername', 'A user name is 1 to 15 letters, digits or underscores.');
    }
    const result = createPost(state.ensureUser(username), text);
    if (!result.ok) throw new HandPostError(result.reason, `X would refuse this post: ${result.reason}`);
    return { id: result.post.id, text: result.post.text };
  };

  const latestPosts = (limit = 50): EmulatorPostSummary[] =>
    state.postsNewestFirst(undefined, limit).map((post) => ({
      id: post.id,
      username: state.userById(post.authorId)?.username ?? post.authorId,
      author_id: post.authorId,
      text: post.text,
      created_at: post.createdAt.toISOString(),
    }));

  return { createPost, handPost, latestPosts };
}

