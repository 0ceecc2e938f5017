import type { JsonObject, JsonValue } from '../events/json.js';
import { invalidRequest, type XErrorResponse } from './problems.js';
import type { PostEntities } from './text.js';

/** X's accepted values; anything else is a 400, as on X. Only some are backed by data here. */
const tweetFieldNames = [
  'article', 'attachments', 'author_id', 'card_uri', 'community_id', 'context_annotations', 'conversation_id',
  'created_at', 'display_text_range', 'edit_controls', 'edit_history_tweet_ids', 'entities', 'geo', 'id',
  'in_reply_to_user_id', 'lang', 'matched_media_notes', 'media_metadata', 'non_public_metrics', 'note_tweet',
  'organic_metrics', 'possibly_sensitive', 'promoted_metrics', 'public_metrics', 'referenced_tweets',
  'reply_settings', 'scopes', 'source', 'text', 'withheld',
];
const userFieldNames = [
  'affiliation', 'connection_status', 'created_at', 'description', 'entities', 'id', 'is_identity_verified',
  'location', 'most_recent_tweet_id', 'name', 'parody', 'pinned_tweet_id', 'profile_banner_url',
  'profile_image_url', 'protected', 'public_metrics', 'receives_your_dm', 'subscription', 'subscription_type',
  'url', 'username', 'verified', 'verified_followers_count', 'verified_type', 'withheld',
];
const expansionNames = [
  'article.cover_media', 'article.media_entities', 'attachments.media_keys', 'attachments.media_source_tweet',
  'attachments.poll_ids', 'author_id', 'edit_history_tweet_ids', 'entities.mentions.username', 'geo.place_id',
  'in_reply_to_user_id', 'entities.note.mentions.username', 'referenced_tweets.id', 'referenced_tweets.id.attachments.media_keys',
  'referenced_tweets.id.author_id',
];

export interface FieldSelection {
  readonly tweetFields: ReadonlySet<string>;
  readonly userFields: ReadonlySet<string>;
  readonly expansions: ReadonlySet<string>;
}

export const defaultSelection: FieldSelection = { tweetFields: new Set(), userFields: new Set(), expansions: new Set() };

function parseList(params: URLSearchParams, name: string, allowed: readonly string[]): Set<string> | XErrorResponse {
  const raw = params.get(name);
  if (raw === null) return new Set();
  const values = raw.split(',').filter((v) => v !== '');
  for (const value of values) {
    if (!allowed.includes(value)) {
      return invalidRequest(`The \`${name}\` query parameter value [${value}] is not one of [${allowed.join(',')}]`, {
        name,
        value: raw,
      });
    }
  }
  return new Set(values);
}

export function parseFieldSelection(params: URLSearchParams): FieldSelection | XErrorResponse {
  const tweetFields = parseList(params, 'tweet.fields', tweetFieldNames);
  if (!(tweetFields instanceof Set)) return tweetFields;
  const userFields = parseList(params, 'user.fields', userFieldNames);
  if (!(userFields instanceof Set)) return userFields;
  const expansions = parseList(params, 'expansions', expansionNames);
  if (!(expansions instanceof Set)) return expansions;
  return { tweetFields, userFields, expansions };
}

export interface RenderablePost {
  readonly id: string;
  readonly text: string;
  readonly authorId: string;
  readonly createdAt: Date;
  readonly entities: PostEntities;
}

export interface RenderableUser {
  readonly id: string;
  readonly username: string;
  readonly name: string;
  readonly createdAt: Date;
}

function entitiesJson(entities: PostEntities): JsonObject | undefined {
  const out: JsonObject = {};
  if (entities.urls.length > 0) out.urls = entities.urls.map((u) => ({ ...u }));
  if (entities.hashtags.length > 0) out.hashtags = entities.hashtags.map((h) => ({ ...h }));
  if (entities.mentions.length > 0) out.mentions = entities.mentions.map((m) => ({ ...m }));
  if (entities.cashtags.length > 0) out.cashtags = entities.cashtags.map((c) => ({ ...c }));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `id`, `text` and `edit_history_tweet_ids` always (X's defaults), plus what was asked for and exists. */
export function renderPost(post: RenderablePost, selection: FieldSelection): JsonObject {
  const out: JsonObject = { id: post.id, text: post.text, edit_history_tweet_ids: [post.id] };
  const fields = selection.tweetFields;
  if (fields.has('author_id')) out.author_id = post.authorId;
  if (fields.has('created_at')) out.created_at = post.createdAt.toISOString();
  if (fields.has('entities')) {
    const entities = entitiesJson(post.entities);
    if (entities !== undefined) out.entities = entities;
  }
  if (fields.has('conversation_id')) out.conversation_id = post.id;
  // note_tweet exists only for posts over 280 characters, which this emulator refuses.
  return out;
}

/** `id`, `name` and `username` always (X's defaults), plus `created_at` when asked. */
export function renderUser(user: RenderableUser, selection: FieldSelection): JsonObject {
  const out: JsonObject = { id: user.id, name: user.name, username: user.username };
  if (selection.userFields.has('created_at')) out.created_at = user.createdAt.toISOString();
  return out;
}

/** `includes` for a page of posts, or undefined when nothing is expanded. */
export function renderIncludes(
  posts: readonly RenderablePost[],
  selection: FieldSelection,
  userById: (id: string) => RenderableUser | undefined,
): JsonObject | undefined {
  if (!selection.expansions.has('author_id')) return undefined;
  const users: JsonValue[] = [];
  const seen = new Set<string>();
  for (const post of posts) {
    if (seen.has(post.authorId)) continue;
    seen.add(post.authorId);
    const user = userById(post.authorId);
    if (user !== undefined) users.push(renderUser(user, selection));
  }
  return users.length > 0 ? { users } : undefined;
}
