import { createHash } from 'node:crypto';
import { matchesRule, type MatchablePost, type RuleExpr } from './rules.js';
import { compareSnowflakes } from './snowflake.js';
import { processPostText, wordsOf, type PostEntities, type TextRejection } from './text.js';

export interface StoredUser {
  readonly id: string;
  readonly username: string;
  readonly name: string;
  readonly createdAt: Date;
}

export interface StoredPost {
  readonly id: string;
  readonly authorId: string;
  /** As X returns it: entities escaped, URLs replaced by t.co links. */
  readonly text: string;
  readonly entities: PostEntities;
  readonly createdAt: Date;
  readonly match: MatchablePost;
  deleted: boolean;
}

export interface StoredRule {
  readonly id: string;
  readonly value: string;
  readonly tag: string | undefined;
  readonly expr: RuleExpr;
}

export type CreatePostResult =
  | { readonly ok: true; readonly post: StoredPost }
  | { readonly ok: false; readonly reason: TextRejection | 'duplicate' };

export interface EmulatorStateOptions {
  readonly now: () => Date;
  readonly newId: () => string;
  readonly owner: { readonly id: string; readonly username: string };
  /** How far back an identical text by the same author counts as a duplicate. */
  readonly duplicateWindowMs?: number;
  readonly tcoLink?: () => string;
}

export const usernamePattern = /^[A-Za-z0-9_]{1,15}$/;

/** A stable numeric id for a hand-typed user name, so the same name is the same author across runs. */
export function userIdForName(username: string): string {
  const digest = createHash('sha256').update(`x-emulator:${username.toLowerCase()}`).digest();
  return ((digest.readBigUInt64BE(0) & 0x3fffffffffffffffn) | 0x1000000000000000n).toString();
}

/** Posts, users and stream rules: everything the emulator remembers (in memory only). */
export function createEmulatorState(options: EmulatorStateOptions) {
  const duplicateWindowMs = options.duplicateWindowMs ?? 24 * 60 * 60 * 1000;
  const users = new Map<string, StoredUser>();
  const usersByName = new Map<string, StoredUser>();
  const posts: StoredPost[] = [];
  const postsById = new Map<string, StoredPost>();
  const rules = new Map<string, StoredRule>();
  /** The newest post per (author, normalized text): the duplicate check is one lookup, not a scan. */
  const latestByAuthorText = new Map<string, StoredPost>();

  const addUser = (user: StoredUser): StoredUser => {
    users.set(user.id, user);
    usersByName.set(user.username.toLowerCase(), user);
    return user;
  };
  const sortedRules = (): StoredRule[] => [...rules.values()].sort((a, b) => compareSnowflakes(a.id, b.id));
  addUser({ id: options.owner.id, username: options.owner.username, name: options.owner.username, createdAt: options.now() });

  return {
    userById: (id: string): StoredUser | undefined => users.get(id),
    /** Finds or creates the user; the caller has checked `usernamePattern`. */
    ensureUser(username: string): StoredUser {
      return (
        usersByName.get(username.toLowerCase()) ??
        addUser({ id: userIdForName(username), username, name: username, createdAt: options.now() })
      );
    },
    createPost(author: StoredUser, rawText: string): CreatePostResult {
      const processed = processPostText(rawText, options.tcoLink);
      if (!processed.ok) return processed;
      const dedupeKey = `${author.id}\u0000${processed.source}`;
      const earlier = latestByAuthorText.get(dedupeKey);
      if (earlier !== undefined && !earlier.deleted && earlier.createdAt.getTime() >= options.now().getTime() - duplicateWindowMs) {
        return { ok: false, reason: 'duplicate' };
      }
      const { entities } = processed;
      const post: StoredPost = {
        id: options.newId(),
        authorId: author.id,
        text: processed.text,
        entities,
        createdAt: options.now(),
        deleted: false,
        match: {
          authorId: author.id,
          username: author.username.toLowerCase(),
          source: processed.source,
          words: wordsOf(processed.source),
          hashtags: new Set(entities.hashtags.map((h) => h.tag.toLowerCase())),
          mentions: new Set(entities.mentions.map((m) => m.username.toLowerCase())),
          cashtags: new Set(entities.cashtags.map((c) => c.tag.toLowerCase())),
          hasLinks: entities.urls.length > 0,
        },
      };
      posts.push(post);
      postsById.set(post.id, post);
      latestByAuthorText.set(dedupeKey, post);
      return { ok: true, post };
    },
    /** A live (not deleted) post. */
    post(id: string): StoredPost | undefined {
      const post = postsById.get(id);
      return post === undefined || post.deleted ? undefined : post;
    },
    /** Live posts, newest first, optionally filtered, at most `limit`. */
    postsNewestFirst(filter: (post: StoredPost) => boolean = () => true, limit = Number.POSITIVE_INFINITY): StoredPost[] {
      const out: StoredPost[] = [];
      for (let i = posts.length - 1; i >= 0 && out.length < limit; i -= 1) {
        const post = posts[i];
        if (post !== undefined && !post.deleted && filter(post)) out.push(post);
      }
      return out;
    },
    rules: sortedRules,
    ruleByValue(value: string): StoredRule | undefined {
      for (const rule of rules.values()) if (rule.value === value) return rule;
      return undefined;
    },
    ruleCount(): number {
      return rules.size;
    },
    addRule(rule: StoredRule): void {
      rules.set(rule.id, rule);
    },
    deleteRule(id: string): boolean {
      return rules.delete(id);
    },
    matchingRules(post: StoredPost): StoredRule[] {
      return sortedRules().filter((rule) => matchesRule(rule.expr, post.match));
    },
  };
}

export type EmulatorState = ReturnType<typeof createEmulatorState>;
