import { randomInt } from 'node:crypto';
import twitterText from 'twitter-text';

/** Entity indices are code points into the returned `text`, as in X API v2. */
export interface UrlEntity {
  readonly start: number;
  readonly end: number;
  readonly url: string;
  readonly expanded_url: string;
  readonly display_url: string;
}
export interface TagEntity {
  readonly start: number;
  readonly end: number;
  readonly tag: string;
}
export interface MentionEntity {
  readonly start: number;
  readonly end: number;
  readonly username: string;
}
export interface PostEntities {
  readonly urls: readonly UrlEntity[];
  readonly hashtags: readonly TagEntity[];
  readonly mentions: readonly MentionEntity[];
  readonly cashtags: readonly TagEntity[];
}

export const maxWeightedLength = 280;

export type TextRejection = 'empty' | 'tooLong' | 'tooManyCashtags';

export type ProcessedText =
  | {
      readonly ok: true;
      /** NFC-normalized input: what duplicate detection and rule matching look at. */
      readonly source: string;
      /** What X returns: `& < >` as entities, URLs replaced by t.co links. */
      readonly text: string;
      readonly entities: PostEntities;
    }
  | { readonly ok: false; readonly reason: TextRejection };

const base62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomTcoLink(): string {
  let slug = '';
  for (let i = 0; i < 10; i += 1) slug += base62.charAt(randomInt(base62.length));
  return `https://t.co/${slug}`;
}

function displayUrl(expanded: string): string {
  const bare = expanded.replace(/^https?:\/\//i, '');
  return bare.length > 26 ? `${bare.slice(0, 25)}…` : bare;
}

function escapeChar(char: string): string {
  if (char === '&') return '&amp;';
  if (char === '<') return '&lt;';
  if (char === '>') return '&gt;';
  return char;
}

/** UTF-16 offset -> code point offset within `text`. */
function codePointIndex(text: string, utf16Index: number): number {
  let count = 0;
  for (let i = 0; i < utf16Index; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < utf16Index) i += 1;
    count += 1;
  }
  return count;
}

/**
 * Applies what X does to the text of a new post: NFC, the 280 weighted-character limit and the
 * one-cashtag rule (counted by `twitter-text`), t.co wrapping of anything it takes for a URL, and
 * HTML entities for `& < >`. Entity positions are mapped onto the returned text.
 */
export function processPostText(raw: string, tcoLink: () => string = randomTcoLink): ProcessedText {
  const source = raw.normalize('NFC');
  if (source.trim() === '') return { ok: false, reason: 'empty' };
  if (twitterText.parseTweet(source).weightedLength > maxWeightedLength) return { ok: false, reason: 'tooLong' };

  const found = twitterText.extractEntitiesWithIndices(source);
  const urlsAt = new Map<number, { end: number; url: string }>();
  let cashtagCount = 0;
  for (const entity of found) {
    if ('url' in entity) urlsAt.set(entity.indices[0], { end: entity.indices[1], url: entity.url });
    if ('cashtag' in entity) cashtagCount += 1;
  }
  if (cashtagCount > 1) return { ok: false, reason: 'tooManyCashtags' };

  // Build the output and a map from each source UTF-16 offset to its output offset.
  const offsets = new Array<number>(source.length + 1).fill(0);
  const urls: { start: number; end: number; url: string; expanded: string }[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    offsets[i] = text.length;
    const url = urlsAt.get(i);
    if (url !== undefined) {
      const link = tcoLink();
      const start = text.length;
      text += link;
      urls.push({ start, end: text.length, url: link, expanded: url.url });
      for (let j = i + 1; j < url.end; j += 1) offsets[j] = start;
      i = url.end;
      continue;
    }
    text += escapeChar(source.charAt(i));
    i += 1;
  }
  offsets[source.length] = text.length;

  const at = (index: number): number => codePointIndex(text, offsets[index] ?? text.length);
  const hashtags: TagEntity[] = [];
  const mentions: MentionEntity[] = [];
  const cashtags: TagEntity[] = [];
  for (const entity of found) {
    const [start, end] = entity.indices;
    if ('hashtag' in entity) hashtags.push({ start: at(start), end: at(end), tag: entity.hashtag });
    else if ('cashtag' in entity) cashtags.push({ start: at(start), end: at(end), tag: entity.cashtag });
    else if ('screenName' in entity) mentions.push({ start: at(start), end: at(end), username: entity.screenName });
  }
  return {
    ok: true,
    source,
    text,
    entities: {
      urls: urls.map((u) => ({
        start: codePointIndex(text, u.start),
        end: codePointIndex(text, u.end),
        url: u.url,
        expanded_url: u.expanded,
        display_url: displayUrl(u.expanded),
      })),
      hashtags,
      mentions,
      cashtags,
    },
  };
}

/** Lower-cased word tokens, for keyword rules. */
export function wordsOf(text: string): Set<string> {
  return new Set(text.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter((w) => w !== ''));
}
