import twitterText from 'twitter-text';
import type { JsonValue } from '../../events/json.js';

/**
 * What X does to post text, in both directions. `twitter-text` is X's reference implementation for
 * counting and for finding links, mentions, hashtags and cashtags; we use it rather than guess.
 * (It is CommonJS: under NodeNext its default import is `module.exports`.)
 */

/** How long a post is to X, and whether X would take it. */
export interface PostMeasure {
  readonly weightedLength: number;
  /** Not empty, within the limit, and free of the characters X refuses (U+FFFE, U+FEFF, U+FFFF). */
  readonly valid: boolean;
}

/**
 * Measures text as X does (NFC first, URLs count 23, CJK and emoji 2). With the default limit this
 * is exactly `parseTweet(text).valid`; a larger limit (long posts) keeps the same rules.
 */
export function measurePostText(text: string, maxWeightedLength = 280): PostMeasure {
  const normalized = text.normalize('NFC');
  const { weightedLength } = twitterText.parseTweet(normalized);
  const valid = weightedLength > 0 && weightedLength <= maxWeightedLength && !twitterText.hasInvalidCharacters(normalized);
  return { weightedLength, valid };
}

/** Something in a post that X would turn into a link, a mention, a hashtag or a cashtag. */
export interface XEntity {
  readonly kind: 'url' | 'mention' | 'hashtag' | 'cashtag';
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Everything X would link in `text` (URLs with or without a protocol), in order of position. */
export function detectEntities(text: string): XEntity[] {
  return twitterText.extractEntitiesWithIndices(text).map((entity): XEntity => {
    const [start, end] = entity.indices;
    if ('url' in entity) return { kind: 'url', text: entity.url, start, end };
    if ('hashtag' in entity) return { kind: 'hashtag', text: entity.hashtag, start, end };
    if ('cashtag' in entity) return { kind: 'cashtag', text: entity.cashtag, start, end };
    return { kind: 'mention', text: entity.screenName, start, end };
  });
}

/** The hashtags X sees in `text`, without the `#`, with their UTF-16 positions. */
export function detectHashtags(text: string): { readonly hashtag: string; readonly start: number; readonly end: number }[] {
  return twitterText.extractHashtagsWithIndices(text).map((h) => ({ hashtag: h.hashtag, start: h.indices[0], end: h.indices[1] }));
}

/**
 * Characters escaped as `\uXXXX` inside JSON strings (keys and values) so X leaves the post alone:
 * - `.` stops URL detection (`example.com`, `user.name`, `report.py`), `& < >` never become entities,
 *   `@ ＠` never mention, `# ＃` never tag, `$` never makes a cashtag (X rejects a second one);
 * - curly double quotes, so a decoder that straightens a phone's quotes cannot break our strings;
 * - characters X refuses or may rewrite: U+FEFF, U+FFFE, U+FFFF, line/paragraph separators and
 *   bidirectional controls.
 * `:` followed by `//` becomes `:\/\/` as well, so no scheme survives even where the dot escape
 * would not stop a link (`http://localhost`).
 */
const rewrittenByX = /[.&<>@#$\uFF03\uFF20\u201C\u201D\u201E\u201F\u2033\u2028\u2029\u200E\u200F\u202A-\u202E\u2066-\u2069\uFEFF\uFFFE\uFFFF]/g;
// eslint-disable-next-line no-control-regex -- the pattern is "anything outside ASCII".
const nonAscii = /[^\u0000-\u007F]/g;

function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * A JSON string literal that X will not rewrite. X NFC-normalizes posts, so a string that is not
 * already NFC has every non-ASCII character escaped; otherwise the decoded value would change.
 */
export function xSafeJsonString(value: string): string {
  const literal = JSON.stringify(value);
  const escaped = value.normalize('NFC') === value ? literal : literal.replace(nonAscii, unicodeEscape);
  // Every character replaced here is a literal one: none of them can be part of a JSON escape sequence.
  return escaped.replace(rewrittenByX, unicodeEscape).replaceAll('://', ':\\/\\/');
}

/**
 * Serializes JSON like `JSON.stringify` (no whitespace, same key order) with every string made
 * X-safe. Numbers are written as JSON writes them: digits, `.`, `e`, `+` and `-` never form a link,
 * a mention, a hashtag or a cashtag (the tests check this with twitter-text).
 */
export function stringifyForX(value: JsonValue): string {
  if (typeof value === 'string') return xSafeJsonString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError('JSON has no representation for a non-finite number');
    return JSON.stringify(value);
  }
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stringifyForX).join(',')}]`;
  return `{${Object.entries(value)
    .map(([key, item]) => `${xSafeJsonString(key)}:${stringifyForX(item)}`)
    .join(',')}}`;
}

/**
 * Puts back what X replaced with t.co links, from the post's `entities.urls`. Longer links go first
 * so one t.co link that is a prefix of another cannot corrupt it.
 */
export function restoreLinks(text: string, urls: readonly { readonly url: string; readonly expandedUrl: string }[]): string {
  const byLength = urls.filter((u) => u.url.length > 0).toSorted((a, b) => b.url.length - a.url.length);
  return byLength.reduce((restored, link) => restored.replaceAll(link.url, link.expandedUrl), text);
}

const htmlEntities: Readonly<Record<string, string>> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/**
 * Undoes X's HTML escaping in one pass, so `&amp;lt;` (a literal "&lt;" that X escaped) becomes
 * "&lt;" and not "<".
 */
export function unescapeHtmlEntities(text: string): string {
  return text.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => htmlEntities[entity] ?? entity);
}

/**
 * Turns a phone's smart quotes back into ASCII: “ ” „ ‟ ″ into `"` and ‘ ’ into `'`. It cannot tell
 * a quote that was typed on purpose inside a value from one that replaced a JSON quote, so callers
 * use it only when the text does not parse as it is.
 */
export function straightenQuotes(text: string): string {
  return text.replace(/[\u201C\u201D\u201E\u201F\u2033]/g, '"').replace(/[\u2018\u2019]/g, "'");
}
