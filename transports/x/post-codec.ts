import { ConfigError, EventTooLargeError } from '../../common/errors.js';
import type { InboundMessage } from '../../events/message.js';
import type { DecodeResult, MessageDecoder } from '../../events/decoder.js';
import {
  collectionNamePattern,
  defaultDocumentLimits,
  defaultEventType,
  parseChangeEvent,
  versionToJson,
  type ChangeEvent,
  type DocumentLimits,
  type ParseResult,
} from '../../events/envelope.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../events/json.js';
import { findJson } from './json-scan.js';
import { detectHashtags, measurePostText, restoreLinks, straightenQuotes, stringifyForX, unescapeHtmlEntities } from './text.js';
import { versionTimeMs } from '../../events/version-clock.js';

/**
 * Post codec v1: change events <-> the text of X posts.
 *
 * Wire form: `#<hashtag> <json>`, where json is one object or an array of objects. Each object is
 * the document itself, then underscore meta keys, so a person reads the row first:
 *
 *     #orders {"id":"8172","status":"SHIPPED","_e":"9f3…","_v":42,"_s":"pg:dvx_orders","_t":1767225600000}
 *
 * | key   | meaning                                   | when written                                    |
 * |-------|-------------------------------------------|-------------------------------------------------|
 * | `_e`  | event id                                  | always                                          |
 * | `_v`  | version                                   | always; a digit string above 2^53               |
 * | `_s`  | source                                    | always                                          |
 * | `_t`  | createdAt, epoch milliseconds             | always                                          |
 * | `_op` | `"d"` for a delete                        | deletes only (absent = upsert)                  |
 * | `_y`  | type                                      | when it is not `defaultEventType(...)`          |
 * | `_c`  | correlation id                            | when there is one                               |
 * | `_k`  | key                                       | when `data.id` does not already say it          |
 * | `_d`  | the document, nested                      | when the document has `_`-prefixed keys itself  |
 *
 * A delete is `{"id":<key>,"_op":"d",…meta}` with no document.
 *
 * A hand-typed post has no meta, and each missing field comes from the post: version = the post id
 * (snowflakes grow with time, so later posts win), event id `x:<postId>` (`x:<postId>:<i>` for the
 * i-th object of an array), source `x:@<username>` (or `x:<authorId>`), createdAt = the post's. The
 * key is `data.id`, which must be a plain string or integer.
 */

export const maxPostWeightedLength = 280;
/** The most objects one post may carry; the encoder never packs more, the decoder rejects more. */
export const maxEventsPerPost = 50;
/** Long (note) posts hold 25,000 characters; anything much longer is not a post. */
const maxPostTextLength = 100_000;

/**
 * Collections and their hashtags (without the `#`): hashtag = prefix + collection. Matching is
 * case-insensitive because people type `#Orders`.
 */
export interface HashtagMap {
  /** The configured hashtags, for stream rules and search queries. */
  readonly hashtags: readonly string[];
  /** The hashtag for any valid collection name, configured or not; decoding is what restricts collections. */
  hashtagFor(collection: string): string;
  /** The configured collection a hashtag (with or without `#`, any case) stands for. */
  collectionFor(hashtag: string): string | undefined;
}

const hashtagPrefixPattern = /^[A-Za-z0-9_]*$/;

/**
 * Throws `ConfigError` for a collection that cannot be a hashtag, or two that differ only in case.
 * `hashtags` names a collection's hashtag outright (X_HASHTAG, the original demo's TWITTER_HASHTAG),
 * in place of prefix + name.
 */
export function createHashtagMap(
  collections: readonly string[],
  prefix = '',
  hashtags: Readonly<Record<string, string>> = {},
): HashtagMap {
  const issues: string[] = [];
  if (!hashtagPrefixPattern.test(prefix)) issues.push(`hashtag prefix "${prefix}" may hold only letters, digits and _`);
  const own = new Map(Object.entries(hashtags));
  const hashtagFor = (collection: string): string => own.get(collection) ?? prefix + collection;
  const byLowerHashtag = new Map<string, string>();
  for (const collection of collections) {
    if (!collectionNamePattern.test(collection)) {
      issues.push(`collection "${collection}" must be letters, digits and _ (at most 64), starting with a letter`);
      continue;
    }
    const hashtag = hashtagFor(collection);
    if (own.has(collection) && !collectionNamePattern.test(hashtag)) issues.push(`the hashtag #${hashtag} of "${collection}" must be letters, digits and _ (at most 64), starting with a letter`);
    const lower = hashtag.toLowerCase();
    const existing = byLowerHashtag.get(lower);
    if (existing !== undefined && existing !== collection) {
      issues.push(`collections "${existing}" and "${collection}" would share the hashtag #${hashtag}`);
    }
    byLowerHashtag.set(lower, collection);
  }
  for (const collection of own.keys()) {
    if (!collections.includes(collection)) issues.push(`a hashtag is given for "${collection}", which is not a configured collection`);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    hashtags: [...new Set(collections)].map(hashtagFor),
    hashtagFor,
    collectionFor: (hashtag) => byLowerHashtag.get(hashtag.replace(/^[#＃]/, '').toLowerCase()),
  };
}

export interface EncodedPost {
  readonly text: string;
  readonly events: readonly ChangeEvent[];
}

export interface PostEncodeOptions {
  readonly hashtags: HashtagMap;
  /** Defaults to 280; larger only for accounts that may write long posts. */
  readonly maxWeightedLength?: number;
  /** The publisher's signature of each event (TRUST_HMAC_KEY), written as `_h` and counted in the length. */
  readonly sign?: (event: ChangeEvent) => string;
}

/**
 * Turns events into post texts, in order. Consecutive events of one collection share a post (a JSON
 * array) while they fit; nothing is ever truncated. Every text carries its events' ids, so no two
 * posts are duplicates in X's eyes.
 *
 * @throws EventTooLargeError for an event that does not fit in a post on its own.
 */
export function encodePosts(events: readonly ChangeEvent[], options: PostEncodeOptions): EncodedPost[] {
  const max = options.maxWeightedLength ?? maxPostWeightedLength;
  const posts: EncodedPost[] = [];
  let group: { collection: string; events: ChangeEvent[]; objects: string[]; text: string } | undefined;

  for (const event of events) {
    const object = stringifyForX(eventToWireObject(event, options.sign));
    if (group !== undefined && group.collection === event.collection && group.events.length < maxEventsPerPost) {
      const text = postText(options.hashtags.hashtagFor(event.collection), [...group.objects, object]);
      if (measurePostText(text, max).valid) {
        group.events.push(event);
        group.objects.push(object);
        group.text = text;
        continue;
      }
    }
    if (group !== undefined) posts.push({ text: group.text, events: group.events });
    const text = postText(options.hashtags.hashtagFor(event.collection), [object]);
    const measure = measurePostText(text, max);
    if (!measure.valid) throw new EventTooLargeError(event.id, measure.weightedLength, max);
    group = { collection: event.collection, events: [event], objects: [object], text };
  }
  if (group !== undefined) posts.push({ text: group.text, events: group.events });
  return posts;
}

function postText(hashtag: string, objects: readonly string[]): string {
  const json = objects.length === 1 ? (objects[0] ?? '') : `[${objects.join(',')}]`;
  return `#${hashtag} ${json}`;
}

/** The key a document's own `id` implies, if it is a plain string or a safe integer. */
function keyFromId(id: JsonValue | undefined): string | undefined {
  if (typeof id === 'string') return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  return undefined;
}

function eventToWireObject(event: ChangeEvent, sign: ((event: ChangeEvent) => string) | undefined): JsonObject {
  const meta: JsonObject = {
    ...(event.op === 'delete' ? { _op: 'd' } : {}),
    _e: event.id,
    _v: versionToJson(event.version),
    _s: event.source,
    // The time a version on the shared clock already says is not written again (19 characters).
    ...(Date.parse(event.createdAt) === versionTimeMs(event.version) ? {} : { _t: Date.parse(event.createdAt) }),
    ...(event.type === defaultEventType(event.collection, event.op) ? {} : { _y: event.type }),
    ...(event.correlationId === undefined ? {} : { _c: event.correlationId }),
    ...(sign === undefined ? {} : { _h: sign(event) }),
  };
  if (event.op === 'delete' || event.data === null) return { id: event.key, ...meta };
  const data = event.data;
  const key: JsonObject = keyFromId(data.id) === event.key ? {} : { _k: event.key };
  if (Object.keys(data).some((k) => k.startsWith('_'))) return { _d: data, ...meta, ...key };
  return { ...data, ...meta, ...key };
}

export interface PostDecodeOptions {
  readonly hashtags: HashtagMap;
  readonly limits?: DocumentLimits;
  /**
   * Checks a publisher signature (`_h`) against the event it came with (TRUST_HMAC_KEY). Without it,
   * no post counts as the publisher's, so none may carry the publisher's meta.
   */
  readonly verify?: (event: ChangeEvent, signature: string) => boolean;
}

/** The meta only the publisher may write: with them a post could pick its own version, id, source or time. */
const publisherOnlyMeta = ['_v', '_e', '_s', '_t'] as const;

/** What X says about a post besides its text: hand-typed posts take their version, event id, source and time from it. */
export interface PostMeta {
  readonly id: string;
  readonly authorId: string;
  readonly username?: string | undefined;
  readonly createdAt?: string | undefined;
  /** t.co links with the text they replaced, from `entities.urls`. */
  readonly urls: readonly { readonly url: string; readonly expandedUrl: string }[];
  readonly editHistoryIds?: readonly string[] | undefined;
}

/** A post's meta as the fields of the message that carries it. */
export function postMessageFields(post: PostMeta): Pick<InboundMessage, 'author' | 'createdAt' | 'links' | 'editHistoryIds'> {
  return {
    author: { id: post.authorId, username: post.username },
    createdAt: post.createdAt,
    links: post.urls,
    editHistoryIds: post.editHistoryIds,
  };
}

/** The meta of an X post, from the message that carries it; `undefined` for a message without an author (another transport). */
export function postMetaOf(message: InboundMessage): PostMeta | undefined {
  if (message.author === undefined) return undefined;
  return {
    id: message.id,
    authorId: message.author.id,
    username: message.author.username,
    createdAt: message.createdAt,
    urls: message.links ?? [],
    editHistoryIds: message.editHistoryIds,
  };
}

/**
 * Turns a post's text back into events. Never throws: a rejection carries the reason for the
 * dead-letter store. It undoes, in this order, what X and people do to text:
 *
 * 1. t.co links are swapped back for `post.urls[].expandedUrl` (for a hand-typed value such as
 *    `example.com` X reports `http://example.com`, so that value comes back with a scheme);
 * 2. `&amp; &lt; &gt; &quot; &#39;` are unescaped, in one pass;
 * 3. the first hashtag (in any case) that names a configured collection picks the collection, and the
 *    JSON is looked for after it, with any text around it ignored;
 * 4. only if that JSON does not parse as it is, smart quotes are straightened and it is tried again,
 *    so a curly quote typed inside a value survives whenever the JSON is otherwise valid.
 *
 * Every object is then checked by `parseChangeEvent`, so one schema guards every way in. A post is
 * all or nothing: one bad object rejects the whole post.
 *
 * `text` must be the full text: for a long post, the X source passes `note_tweet.text`.
 */
export function decodePost(text: string, post: PostMeta | undefined, options: PostDecodeOptions): DecodeResult {
  const limits = options.limits ?? defaultDocumentLimits;
  if (text.length > maxPostTextLength) return reject(`post text is longer than ${maxPostTextLength} characters`);

  const cleaned = unescapeHtmlEntities(restoreLinks(text, post?.urls ?? []));
  const tag = detectHashtags(cleaned)
    .map((h) => ({ ...h, collection: options.hashtags.collectionFor(h.hashtag) }))
    .find((h) => h.collection !== undefined);
  if (tag?.collection === undefined) {
    return reject(`no configured hashtag (${options.hashtags.hashtags.map((h) => `#${h}`).join(', ')}) in the post`);
  }

  // Wrapper array, object and `_d` sit above the document's own levels.
  const maxDepth = limits.maxDepth + 3;
  let found = findJson(cleaned, tag.end, maxDepth);
  if (!found.ok && found.refused === 'syntax') {
    const straightened = findJson(straightenQuotes(cleaned), tag.end, maxDepth);
    if (straightened.ok) found = straightened;
  }
  if (!found.ok) return reject(found.reason);

  const value = found.value;
  if (Array.isArray(value)) {
    if (value.length === 0) return reject('the JSON array is empty');
    if (value.length > maxEventsPerPost) return reject(`the JSON array has ${value.length} objects; at most ${maxEventsPerPost} are accepted`);
  }
  const items: readonly unknown[] = Array.isArray(value) ? value : [value];
  const events: ChangeEvent[] = [];
  const signedObjects: boolean[] = [];
  for (const [index, item] of items.entries()) {
    const parsed = wireObjectToEvent(item, {
      collection: tag.collection,
      post,
      limits,
      eventIdSuffix: Array.isArray(value) ? `:${index}` : '',
      verify: options.verify,
    });
    if (!parsed.ok) return reject(Array.isArray(value) ? `object ${index}: ${parsed.reason}` : parsed.reason);
    events.push(parsed.value.event);
    signedObjects.push(parsed.value.signed);
  }
  const signed = signedObjects.every(Boolean);
  if (!signed && signedObjects.some(Boolean)) return reject('the post mixes objects signed by the publisher with hand-typed ones');
  return { ok: true, events, signed };
}

/**
 * A `MessageDecoder` for X posts. A post without a creation time gets the time it was received, so a
 * hand-typed post still has a `createdAt`.
 */
export function createPostDecoder(options: PostDecodeOptions): MessageDecoder {
  return (message: InboundMessage) => {
    const post = postMetaOf(message);
    return decodePost(message.text, post === undefined ? undefined : { ...post, createdAt: post.createdAt ?? message.receivedAt.toISOString() }, options);
  };
}

const metaKeys = new Set(['_e', '_v', '_s', '_t', '_op', '_y', '_c', '_k', '_d', '_h']);
/** Epoch milliseconds that `Date` can represent. */
const maxEpochMs = 8.64e15;

interface WireContext {
  readonly collection: string;
  readonly post: PostMeta | undefined;
  readonly limits: DocumentLimits;
  readonly eventIdSuffix: string;
  readonly verify: ((event: ChangeEvent, signature: string) => boolean) | undefined;
}

function reject(reason: string): DecodeResult {
  return { ok: false, reason };
}

function fail(reason: string): ParseResult<never> {
  return { ok: false, reason };
}

/** Untrusted text quoted into a reason, short enough for a log line. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function wireObjectToEvent(item: unknown, context: WireContext): ParseResult<{ event: ChangeEvent; signed: boolean }> {
  if (!isJsonObject(item)) return fail('expected a JSON object');
  const meta: Record<string, JsonValue> = {};
  const documentEntries: [string, JsonValue][] = [];
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith('_')) {
      documentEntries.push([name, value]);
    } else if (metaKeys.has(name)) {
      meta[name] = value;
    } else {
      return fail(`unknown meta key ${quoted(name)}; a document whose keys start with "_" goes under "_d"`);
    }
  }
  // fromEntries defines own properties: assigning a "__proto__" key would set the prototype instead
  // and hide the key from the checks below.
  const fields: JsonObject = Object.fromEntries(documentEntries);

  const { _e: id, _v: version, _s: source, _t: time, _op: opCode, _y: type, _c: correlationId, _k: key, _d: nested, _h: signature } = meta;
  if (id !== undefined && typeof id !== 'string') return fail('_e (event id) must be a string');
  if (version !== undefined && typeof version !== 'string' && typeof version !== 'number') return fail('_v (version) must be a number or a string of digits');
  if (source !== undefined && typeof source !== 'string') return fail('_s (source) must be a string');
  if (time !== undefined && (typeof time !== 'number' || !Number.isInteger(time) || Math.abs(time) > maxEpochMs)) {
    return fail('_t (createdAt) must be epoch milliseconds');
  }
  if (opCode !== undefined && opCode !== 'd') return fail('_op must be "d" (delete) or absent (upsert)');
  if (type !== undefined && typeof type !== 'string') return fail('_y (type) must be a string');
  if (correlationId !== undefined && typeof correlationId !== 'string') return fail('_c (correlation id) must be a string');
  if (key !== undefined && typeof key !== 'string' && typeof key !== 'number') return fail('_k (key) must be a string or an integer');
  if (nested !== undefined && !isJsonObject(nested)) return fail('_d (document) must be a JSON object');

  if (signature !== undefined && typeof signature !== 'string') return fail('_h (signature) must be a string');
  if (signature === undefined) {
    const claimed = publisherOnlyMeta.filter((name) => name in meta);
    if (claimed.length > 0) {
      return fail(`forbidden meta: ${claimed.join(', ')} may be written only by the publisher, whose posts are signed (_h); a hand-typed post carries none of ${publisherOnlyMeta.join(', ')}`);
    }
  } else if (context.verify === undefined) {
    return fail('the post is signed (_h), but this consumer has no TRUST_HMAC_KEY to check the signature');
  }
  const op = opCode === 'd' ? 'delete' : 'upsert';
  if (op === 'delete' && nested !== undefined) return fail('a delete carries no document (_d)');
  if (op === 'delete' && Object.keys(fields).some((name) => name !== 'id')) return fail('a delete carries only "id" and meta keys');
  if (nested !== undefined && Object.keys(fields).length > 0) return fail('with _d, every document key goes inside _d');
  const data = nested ?? fields;

  const documentId = data.id;
  if (key === undefined && documentId === undefined) return fail('missing id: the document needs an "id" (a string or an integer)');
  if (key === undefined && typeof documentId !== 'string' && typeof documentId !== 'number') return fail('id must be a plain string or an integer');

  const post = context.post;
  const resolvedVersion = version ?? post?.id;
  if (resolvedVersion === undefined) return fail('no version: _v is missing and there is no post id to take it from');
  const resolvedId = id ?? (post === undefined ? undefined : `x:${post.id}${context.eventIdSuffix}`);
  if (resolvedId === undefined) return fail('no event id: _e is missing and there is no post id to take it from');
  const resolvedSource = source ?? (post === undefined ? undefined : post.username !== undefined && post.username !== '' ? `x:@${post.username}` : `x:${post.authorId}`);
  if (resolvedSource === undefined) return fail('no source: _s is missing and there is no post author to take it from');
  const createdAt = time !== undefined ? new Date(time).toISOString() : (timeOfVersion(version) ?? post?.createdAt);
  if (createdAt === undefined) return fail('no createdAt: _t is missing and the post has no creation time');

  const parsed = parseChangeEvent(
    {
      id: resolvedId,
      source: resolvedSource,
      type: type ?? defaultEventType(context.collection, op),
      collection: context.collection,
      key: key ?? documentId,
      version: resolvedVersion,
      op,
      data: op === 'delete' ? null : data,
      createdAt,
      ...(correlationId === undefined ? {} : { correlationId }),
    },
    context.limits,
  );
  if (!parsed.ok) return parsed;
  if (signature === undefined) return { ok: true, value: { event: parsed.value, signed: false } };
  if (context.verify?.(parsed.value, signature) !== true) {
    return fail('bad signature: _h is not the publisher\'s signature of this event (it was edited, or signed with another key)');
  }
  return { ok: true, value: { event: parsed.value, signed: true } };
}

/**
 * The time a publisher's `_v` stands for, when `_t` is left out because it says the same: a version
 * on the shared clock carries its millisecond (events/version-clock.ts). Undefined for no `_v`, and
 * for one that is not a version (the schema then says why).
 */
function timeOfVersion(version: JsonValue | undefined): string | undefined {
  const text = typeof version === 'number' && Number.isSafeInteger(version) ? String(version) : typeof version === 'string' ? version : '';
  if (!/^\d{1,19}$/.test(text)) return undefined;
  const ms = versionTimeMs(BigInt(text));
  return Number.isFinite(ms) && Math.abs(ms) <= maxEpochMs ? new Date(ms).toISOString() : undefined;
}

