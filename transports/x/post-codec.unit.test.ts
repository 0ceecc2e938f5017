import { describe, expect, it } from 'vitest';
import { EventTooLargeError } from '../../common/errors.js';
import type { InboundMessage } from '../../events/message.js';
import type { DecodeResult } from '../../events/decoder.js';
import { defaultDocumentLimits, type ChangeEvent } from '../../events/envelope.js';
import type { JsonObject } from '../../events/json.js';
import {
  createHashtagMap,
  createPostDecoder,
  decodePost,
  encodePosts,
  maxPostWeightedLength,
  postMessageFields,
  type EncodedPost,
  type PostMeta,
} from './post-codec.js';
import { detectEntities, measurePostText } from './text.js';
import { aChangeEvent } from '../../events/change-event.fixture.js';
import { createEventSigner } from '../../events/signature.js';
import { versionAt } from '../../events/version-clock.js';

const hashtags = createHashtagMap(['orders', 'customers']);
/** The publisher signs what it posts; the decoder checks it, so the publisher's meta is accepted. */
const signer = createEventSigner('test-key-test-key-test-key-test-key');
const options = { hashtags, sign: (event: ChangeEvent) => signer.sign(event), verify: (event: ChangeEvent, signature: string) => signer.verify(event, signature) };

function anEvent(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  return aChangeEvent({ id: '0f6c1a52-8d3e-4f0e-9a57-3b1f2c4d5e6f', type: 'orders.upserted', data: { id: '8172', status: 'SHIPPED' }, ...overrides });
}

function aDelete(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  return anEvent({ op: 'delete', type: 'orders.deleted', data: null, ...overrides });
}

function aPost(overrides: Partial<PostMeta> = {}): PostMeta {
  return {
    id: '1876543210987654321',
    authorId: '2244994945',
    username: 'jack',
    createdAt: '2026-01-02T10:00:00.000Z',
    urls: [],
    ...overrides,
  };
}

function encodeOne(event: ChangeEvent): string {
  const posts = encodePosts([event], options);
  expect(posts).toHaveLength(1);
  const [post] = posts;
  if (post === undefined) throw new Error('no post');
  return post.text;
}

function eventsOf(result: DecodeResult): readonly ChangeEvent[] {
  if (!result.ok) throw new Error(`rejected: ${result.reason}`);
  return result.events;
}

function reasonOf(result: DecodeResult): string {
  if (result.ok) throw new Error(`expected a rejection, got ${result.events.length} events`);
  return result.reason;
}

let tcoCounter = 0;

/**
 * What X does to a post's text on the way through: NFC, every URL twitter-text finds wrapped in a
 * t.co link (listed in entities.urls), then `& < >` as HTML entities.
 */
function throughX(text: string, post: PostMeta = aPost()): { text: string; post: PostMeta } {
  let out = text.normalize('NFC');
  const urls: { url: string; expandedUrl: string }[] = [];
  for (const entity of detectEntities(out).filter((e) => e.kind === 'url').reverse()) {
    tcoCounter += 1;
    const tco = `https://t.co/Xy${tcoCounter}`;
    urls.push({ url: tco, expandedUrl: /^https?:\/\//.test(entity.text) ? entity.text : `http://${entity.text}` });
    out = out.slice(0, entity.start) + tco + out.slice(entity.end);
  }
  out = out.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  return { text: out, post: { ...post, urls } };
}

function roundTrip(events: readonly ChangeEvent[]): { posts: EncodedPost[]; decoded: ChangeEvent[] } {
  const posts = encodePosts(events, options);
  const decoded = posts.flatMap((p) => {
    const x = throughX(p.text);
    return [...eventsOf(decodePost(x.text, x.post, options))];
  });
  return { posts, decoded };
}

/** Only the leading hashtag: no URL, mention, cashtag or second hashtag anywhere in the payload. */
function expectNothingForXToRewrite(text: string): void {
  const entities = detectEntities(text);
  expect(entities.map((e) => `${e.kind}:${e.text}`)).toEqual([`hashtag:${text.slice(1, text.indexOf(' '))}`]);
  expect(entities[0]?.start).toBe(0);
  expect(text.normalize('NFC')).toBe(text);
  expect(measurePostText(text).valid).toBe(true);
}

describe('createHashtagMap', () => {
  it('maps a hashtag in any letter case, with or without #, to its collection', () => {
    expect(hashtags.collectionFor('ORDERS')).toBe('orders');
    expect(hashtags.collectionFor('#Orders')).toBe('orders');
    expect(hashtags.collectionFor('＃orders')).toBe('orders');
    expect(hashtags.collectionFor('invoices')).toBeUndefined();
  });

  it('prefixes every hashtag', () => {
    const map = createHashtagMap(['orders'], 'tb_');
    expect(map.hashtags).toEqual(['tb_orders']);
    expect(map.hashtagFor('orders')).toBe('tb_orders');
    expect(map.collectionFor('TB_Orders')).toBe('orders');
    expect(map.collectionFor('orders')).toBeUndefined();
  });

  it('refuses collections and prefixes that cannot be hashtags, and collections differing only in case', () => {
    expect(() => createHashtagMap(['dvx-orders'])).toThrow(/dvx-orders/);
    expect(() => createHashtagMap(['orders'], 'tb-')).toThrow(/prefix/);
    expect(() => createHashtagMap(['orders', 'Orders'])).toThrow(/share the hashtag/);
  });

  it("takes a collection's own hashtag in place of prefix + name, as the original demo's TWITTER_HASHTAG did", () => {
    const map = createHashtagMap(['orders', 'customers'], 'tb_', { orders: 'japacorderevent' });
    expect(map.hashtags).toEqual(['japacorderevent', 'tb_customers']);
    expect(map.hashtagFor('orders')).toBe('japacorderevent');
    expect(map.collectionFor('#JapacOrderEvent')).toBe('orders');
    expect(map.collectionFor('tb_orders')).toBeUndefined();
    expect(() => createHashtagMap(['orders'], '', { invoices: 'inv' })).toThrow(/not a configured collection/);
    expect(() => createHashtagMap(['orders', 'customers'], '', { orders: 'customers' })).toThrow(/share the hashtag/);
  });
});

describe('encodePosts', () => {
  it('writes the document first, then the meta keys', () => {
    expect(encodeOne(anEvent())).toMatch(
      /^#orders \{"id":"8172","status":"SHIPPED","_e":"0f6c1a52-8d3e-4f0e-9a57-3b1f2c4d5e6f","_v":42,"_s":"pg:dvx_orders","_t":1767323045678,"_h":"[\w-]{11}"\}$/,
    );
  });

  it('writes a delete as the id plus meta, with no document', () => {
    expect(encodeOne(aDelete({ version: 43n }))).toMatch(
      /^#orders \{"id":"8172","_op":"d","_e":"0f6c1a52-8d3e-4f0e-9a57-3b1f2c4d5e6f","_v":43,"_s":"pg:dvx_orders","_t":1767323045678,"_h":"[\w-]{11}"\}$/,
    );
  });

  it('writes a version above 2^53 as a digit string', () => {
    expect(encodeOne(anEvent({ version: 1876543210987654321n }))).toContain('"_v":"1876543210987654321"');
  });

  it('writes the type only when it is not the default one', () => {
    expect(encodeOne(anEvent())).not.toContain('"_y"');
    expect(encodeOne(anEvent({ type: 'orders.shipped' }))).toContain('"_y":"orders\\u002eshipped"');
  });

  it('writes the correlation id when there is one', () => {
    expect(encodeOne(anEvent({ correlationId: 'req-7' }))).toContain('"_c":"req-7"');
  });

  it('writes the key only when the document id does not already say it', () => {
    expect(encodeOne(anEvent({ key: '8172', data: { id: 8172 } }))).not.toContain('"_k"');
    expect(encodeOne(anEvent({ key: 'A-1', data: { id: 'a-1' } }))).toContain('"_k":"A-1"');
    expect(encodeOne(anEvent({ key: '8172', data: { orderId: '8172' } }))).toContain('"_k":"8172"');
    expect(encodeOne(anEvent({ key: '1.5', data: { id: 1.5 } }))).toContain('"_k":"1\\u002e5"');
  });

  it('nests the document under _d when it has keys starting with _', () => {
    expect(encodeOne(anEvent({ data: { _id: '8172', status: 'NEW' } }))).toMatch(/^#orders \{"_d":\{"_id":"8172","status":"NEW"\},"_e":/);
  });

  it('packs consecutive events of one collection into one post, in order', () => {
    const events = [1, 2, 3].map((n) => anEvent({ id: `e${n}`, key: String(n), version: BigInt(n), data: { id: String(n) } }));
    const posts = encodePosts(events, options);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.events).toEqual(events);
    expect(posts[0]?.text).toMatch(/^#orders \[\{"id":"1",.*\},\{"id":"2",.*\},\{"id":"3",.*\}\]$/);
  });

  it('starts a new post when the collection changes', () => {
    const order = (id: string) => anEvent({ id, key: id, data: { id } });
    const customer = (id: string) => anEvent({ id, key: id, collection: 'customers', type: 'customers.upserted', data: { id } });
    const posts = encodePosts([order('o1'), order('o2'), customer('c1'), order('o3')], options);
    expect(posts.map((p) => p.events.map((e) => e.id))).toEqual([['o1', 'o2'], ['c1'], ['o3']]);
    expect(posts.map((p) => p.text.split(' ')[0])).toEqual(['#orders', '#customers', '#orders']);
  });

  it('splits many events over posts that each fit, keeping every event once and in order', () => {
    const events = Array.from({ length: 40 }, (_, n) => anEvent({ id: `evt-${n}`, key: String(n), version: BigInt(n + 1), data: { id: String(n), status: 'SHIPPED' } }));
    const posts = encodePosts(events, options);
    expect(posts.length).toBeGreaterThan(1);
    for (const post of posts) expect(measurePostText(post.text).weightedLength).toBeLessThanOrEqual(maxPostWeightedLength);
    expect(posts.flatMap((p) => p.events)).toEqual(events);
  });

  it('fits an event of exactly 280 weighted characters', () => {
    const padding = 280 - measurePostText(encodeOne(anEvent({ data: { id: '8172', note: '' } }))).weightedLength;
    const text = encodeOne(anEvent({ data: { id: '8172', note: 'n'.repeat(padding) } }));
    expect(measurePostText(text)).toEqual({ weightedLength: 280, valid: true });
  });

  it('throws EventTooLargeError for an event one character over, and never truncates', () => {
    const padding = 281 - measurePostText(encodeOne(anEvent({ id: 'too-big', data: { id: '8172', note: '' } }))).weightedLength;
    const event = anEvent({ id: 'too-big', data: { id: '8172', note: 'n'.repeat(padding) } });
    expect(() => encodePosts([event], options)).toThrow(EventTooLargeError);
    expect(() => encodePosts([event], options)).toThrow(expect.objectContaining({ eventId: 'too-big', size: 281, limit: 280 }));
  });

  it('counts CJK and emoji as X does when deciding what fits', () => {
    const event = anEvent({ data: { id: '8172', note: '日本語'.repeat(40) } });
    expect(() => encodePosts([event], options)).toThrow(EventTooLargeError);
    expect(() => encodePosts([event], { ...options, maxWeightedLength: 25_000 })).not.toThrow();
  });
});

const trickyValues: readonly [string, JsonObject[string]][] = [
  ['a domain without protocol', 'example.com'],
  ['HTML special characters', 'Smith & Sons <UK>'],
  ['a user name with a dot', 'user.name'],
  ['a file name', 'report.py'],
  ['a URL with a query', 'http://a.b/c?d=e&f'],
  ['an https URL', 'https://www.example.co.uk/path?q=1#frag'],
  ['a URL on localhost', 'http://localhost:3000/x'],
  ['an IP address', '127.0.0.1'],
  ['an email address', 'jane.doe+tag@example.org'],
  ['two cashtags', '$ABC $DEF'],
  ['a mention', '@jack'],
  ['a full-width mention and hashtag', '＠jack ＃tag'],
  ['a hashtag', '#hash'],
  ['curly quotes', '“quoted” ‘single’'],
  ['an escaped entity', '&amp; &lt;'],
  ['CJK', '日本語'],
  ['an emoji family', '👩‍👩‍👧'],
  ['decomposed accents', 'Cafe\u0301'],
  ['a right-to-left override', 'abc\u202Edef'],
  ['a byte order mark', '\uFEFFx'],
  ['a line separator', 'a\u2028b'],
  ['newlines and tabs', 'a\nb\tc'],
  ['backslashes and quotes', 'C:\\dir\\"x"'],
  ['a t.co link', 'https://t.co/abc'],
  ['a float', 1.5],
  ['a negative float', -273.15],
  ['a tiny float', 5e-7],
  ['a huge float', 1e21],
  ['true', true],
  ['false', false],
  ['null', null],
  ['an array of tricky strings', ['a.io', '@b', '#c', '$D']],
  ['a nested object', { shipTo: { city: 'St. Louis', email: 'ops@acme.io' }, lines: [{ sku: 'X.1', qty: 2 }] }],
];

describe('the round trip through X', () => {
  it.each(trickyValues)('keeps %s unchanged', (_name, value) => {
    const event = anEvent({ data: { id: '8172', value } });
    const text = encodeOne(event);
    expectNothingForXToRewrite(text);
    const { decoded } = roundTrip([event]);
    expect(decoded).toEqual([event]);
  });

  it('keeps tricky keys unchanged', () => {
    const event = anEvent({ data: { id: '8172', 'a@b': 1, 'c#d': 2, 'e&f': 3, '日本': 4, 'x:y//z': 5 } });
    expectNothingForXToRewrite(encodeOne(event));
    expect(roundTrip([event]).decoded).toEqual([event]);
  });

  it.each([
    ['a delete', aDelete()],
    ['a version above 2^53', anEvent({ version: 1876543210987654321n })],
    ['the largest version', anEvent({ version: 2n ** 63n - 1n })],
    ['a custom type', anEvent({ type: 'orders.shipped' })],
    ['a correlation id', anEvent({ correlationId: 'req@host.example' })],
    ['a source with dots', anEvent({ source: 'oracle:ADMIN.DVX_ORDERS' })],
    ['a numeric document id', anEvent({ key: '8172', data: { id: 8172, status: 'NEW' } })],
    ['a negative numeric document id', anEvent({ key: '-5', data: { id: -5 } })],
    ['a key that differs from the document id', anEvent({ key: 'order-8172', data: { id: 8172 } })],
    ['a document without an id', anEvent({ data: { orderId: '8172' } })],
    ['a document with _-prefixed keys', anEvent({ data: { _id: '8172', _rev: 3 } })],
    ['an empty document', anEvent({ data: {} })],
    ['a createdAt before 1970', anEvent({ createdAt: '1969-07-20T20:17:40.000Z' })],
  ])('keeps %s unchanged', (_name, event) => {
    expectNothingForXToRewrite(encodeOne(event));
    expect(roundTrip([event]).decoded).toEqual([event]);
  });

  it('keeps a packed post of many events unchanged', () => {
    const events = trickyValues.slice(0, 12).map(([, value], n) => anEvent({ id: `e${n}`, key: String(n), data: { id: String(n), value } }));
    const { posts, decoded } = roundTrip(events);
    for (const post of posts) expectNothingForXToRewrite(post.text);
    expect(decoded).toEqual(events);
  });

  it('keeps random nasty strings unchanged', () => {
    const fragments = [
      '.', '&', '<', '>', '@', '#', '$', '＃', '＠', ':', '/', '//', 'http', 'https://', 'www', 'com', 'io', 'a', 'Z9', ' ',
      '"', '\\', '“', '”', '‘', '’', '日本', '👩‍👩‍👧', 'e\u0301', '\u2028', '\uFEFF', '\u202E', '&amp;', 't.co', '1.5', '\n',
      '\u200D', '_', '-', '?', '=', '%', '+', 'ABC',
    ];
    let seed = 20260102;
    const random = (): number => {
      // mulberry32: reproducible, so a failure can be replayed.
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const nasty = (): string => Array.from({ length: 1 + Math.floor(random() * 10) }, () => fragments[Math.floor(random() * fragments.length)]).join('');
    for (let n = 0; n < 300; n += 1) {
      const event = anEvent({ id: `evt-${n}`, data: { id: '8172', a: nasty(), b: [nasty()] } });
      const text = encodeOne(event);
      expectNothingForXToRewrite(text);
      expect(roundTrip([event]).decoded).toEqual([event]);
    }
  });
});

describe('decodePost of hand-typed posts', () => {
  const post = aPost();

  it('decodes the minimal form, taking version, id, source and time from the post', () => {
    expect(eventsOf(decodePost('#orders {"id":"8172","status":"SHIPPED"}', post, options))).toEqual([
      {
        id: 'x:1876543210987654321',
        source: 'x:@jack',
        type: 'orders.upserted',
        collection: 'orders',
        key: '8172',
        version: 1876543210987654321n,
        op: 'upsert',
        data: { id: '8172', status: 'SHIPPED' },
        createdAt: '2026-01-02T10:00:00.000Z',
      },
    ]);
  });

  it('names the author by id when the post has no username', () => {
    const [event] = eventsOf(decodePost('#orders {"id":"8172"}', aPost({ username: undefined }), options));
    expect(event?.source).toBe('x:2244994945');
  });

  it('takes the key from a numeric id', () => {
    const [event] = eventsOf(decodePost('#orders {"id":8172}', post, options));
    expect(event?.key).toBe('8172');
  });

  it('gives each object of an array its own event id', () => {
    const events = eventsOf(decodePost('#orders [{"id":"1"},{"id":"2"}]', post, options));
    expect(events.map((e) => [e.id, e.key])).toEqual([
      ['x:1876543210987654321:0', '1'],
      ['x:1876543210987654321:1', '2'],
    ]);
  });

  it('decodes a hand-typed delete', () => {
    const [event] = eventsOf(decodePost('#orders {"id":"8172","_op":"d"}', post, options));
    expect(event).toMatchObject({ op: 'delete', type: 'orders.deleted', key: '8172', data: null });
  });

  it.each([
    ['_v', '#orders {"id":"8172","_v":"9000000000000000000"}'],
    ['_v', '#orders {"id":"8172","_op":"d","_v":9000000000000000000}'],
    ['_e, _s', '#orders {"id":"8172","status":"X","_e":"mine","_s":"dvx_orders"}'],
    ['_t', '#orders {"id":"8172","_t":0}'],
  ])('refuses the publisher\'s meta (%s) in a hand-typed post, naming it', (named, text) => {
    expect(reasonOf(decodePost(text, post, options))).toBe(
      `forbidden meta: ${named} may be written only by the publisher, whose posts are signed (_h); a hand-typed post carries none of _v, _e, _s, _t`,
    );
  });

  it('takes the publisher\'s meta from a signed post, and says the post is signed', () => {
    const result = decodePost(encodeOne(anEvent({ version: 7n, id: 'mine' })), post, options);
    expect(eventsOf(result)[0]).toMatchObject({ id: 'mine', version: 7n });
    expect(result).toMatchObject({ signed: true });
    expect(decodePost('#orders {"id":"8172"}', post, options)).toMatchObject({ ok: true, signed: false });
  });

  it('refuses a signed post whose event was edited, or signed with another key', () => {
    const genuine = encodeOne(anEvent({ version: 7n }));
    expect(reasonOf(decodePost(genuine.replace('SHIPPED', 'PAID'), post, options))).toMatch(/^bad signature: _h is not the publisher's signature of this event/);
    expect(reasonOf(decodePost(genuine.replace('"_v":7', '"_v":8'), post, options))).toMatch(/^bad signature/);
    const other = createEventSigner('another-key-another-key-another-key');
    const forged = encodePosts([anEvent()], { hashtags, sign: (e) => other.sign(e) })[0]?.text ?? '';
    expect(reasonOf(decodePost(forged, post, options))).toMatch(/^bad signature/);
    expect(reasonOf(decodePost(genuine, post, { hashtags }))).toBe('the post is signed (_h), but this consumer has no TRUST_HMAC_KEY to check the signature');
  });

  it('accepts smart quotes from a phone', () => {
    const [event] = eventsOf(decodePost('#orders {“id”:“8172”,“status”:“SHIPPED”}', post, options));
    expect(event?.data).toEqual({ id: '8172', status: 'SHIPPED' });
  });

  it('accepts smart quotes around the whole payload and a capitalized hashtag', () => {
    const [event] = eventsOf(decodePost('#Orders “{“id”:“8172”,“status”:“SHIPPED”}”', post, options));
    expect(event).toMatchObject({ collection: 'orders', data: { id: '8172', status: 'SHIPPED' } });
  });

  it('keeps a curly quote typed inside a value when the JSON is otherwise valid', () => {
    const [event] = eventsOf(decodePost('#orders {"id":"8172","note":"the “best” one"}', post, options));
    expect(event?.data).toEqual({ id: '8172', note: 'the “best” one' });
  });

  it('unescapes the HTML entities X adds', () => {
    const [event] = eventsOf(decodePost('#orders {"id":"8172","customer":"Smith &amp; Sons &lt;UK&gt;"}', post, options));
    expect(event?.data).toEqual({ id: '8172', customer: 'Smith & Sons <UK>' });
  });

  it('restores a value X wrapped in a t.co link', () => {
    const x = throughX('#orders {"id":"8172","site":"https://example.com/a?b=c&d=e"}', post);
    expect(x.text).toContain('https://t.co/');
    const [event] = eventsOf(decodePost(x.text, x.post, options));
    expect(event?.data).toEqual({ id: '8172', site: 'https://example.com/a?b=c&d=e' });
  });

  it('ignores text before and after the JSON', () => {
    const [event] = eventsOf(decodePost('Shipped today! #orders: {"id":"8172","status":"SHIPPED"} 🎉 thanks all', post, options));
    expect(event?.key).toBe('8172');
  });

  it('finds the hashtag anywhere before the JSON', () => {
    const [event] = eventsOf(decodePost('look #demo and #ORDERS {"id":"8172"}', post, options));
    expect(event?.collection).toBe('orders');
  });

  it('uses the first configured hashtag when a post carries two', () => {
    const [event] = eventsOf(decodePost('#customers #orders {"id":"8172"}', post, options));
    expect(event?.collection).toBe('customers');
  });

  it('decodes a post of ours without post meta', () => {
    const event = anEvent();
    expect(eventsOf(decodePost(encodeOne(event), undefined, options))).toEqual([event]);
  });
});

describe('decodePost rejections', () => {
  const post = aPost();
  const rejection = (text: string) => reasonOf(decodePost(text, post, options));
  const rejectionWithoutPost = (text: string) => reasonOf(decodePost(text, undefined, options));

  it.each([
    ['no hashtag', '{"id":"8172"}', /^no configured hashtag \(#orders, #customers\)/],
    ['a hashtag of another collection', '#invoices {"id":"8172"}', /^no configured hashtag/],
    ['a hashtag glued to a word', 'x#orders {"id":"8172"}', /^no configured hashtag/],
    ['no JSON', '#orders shipped 8172', /^no JSON object or array found$/],
    ['JSON only before the hashtag', '{"id":"8172"} #orders', /^no JSON object or array found$/],
    ['JSON that does not parse', "#orders {'id':'8172'}", /^JSON does not parse/],
    ['unbalanced JSON', '#orders {"id":"8172"', /^JSON is not closed/],
    ['a value that is not an object', '#orders [1]', /^object 0: expected a JSON object/],
    ['an empty array', '#orders []', /^the JSON array is empty/],
    ['a missing id', '#orders {"status":"SHIPPED"}', /^missing id/],
    ['an id that is an object', '#orders {"id":{"$gt":""}}', /^id must be a plain string or an integer/],
    ['an id that is a boolean', '#orders {"id":true}', /^id must be a plain string or an integer/],
    ['an id that is a float', '#orders {"id":1.5}', /^key/],
    ['an empty id', '#orders {"id":""}', /^key/],
    ['an unknown meta key', '#orders {"id":"1","_id":"x"}', /^unknown meta key "_id"/],
    ['a "__proto__" key', '#orders {"id":"1","__proto__":{"x":1}}', /^unknown meta key "__proto__"/],
    ['a nested "__proto__" key', '#orders {"id":"1","a":{"__proto__":{"x":1}}}', /key "__proto__" is not allowed/],
    ['a "$" key', '#orders {"id":"1","$set":{"x":1}}', /may not start with "\$"/],
    ['a dotted key', '#orders {"id":"1","a.b":1}', /may not contain "\."/],
    ['a "constructor" key', '#orders {"id":"1","constructor":1}', /"constructor" is not allowed/],
    ['a NUL in a value', '#orders {"id":"1","a":"x\\u0000"}', /NUL/],
    ['a version of the wrong type', '#orders {"id":"1","_v":true}', /^_v \(version\) must be/],
    ['a version with letters', '#orders {"id":"1","_v":"12a","_h":"AAAAAAAAAAA"}', /^version/],
    ['a negative version', '#orders {"id":"1","_v":-1,"_h":"AAAAAAAAAAA"}', /^version/],
    ['a time that is not epoch ms', '#orders {"id":"1","_t":"yesterday"}', /^_t \(createdAt\) must be epoch milliseconds/],
    ['an unknown op', '#orders {"id":"1","_op":"x"}', /^_op must be "d"/],
    ['an event id of the wrong type', '#orders {"id":"1","_e":1}', /^_e \(event id\) must be a string/],
    ['a source of the wrong type', '#orders {"id":"1","_s":[]}', /^_s \(source\) must be a string/],
    ['a type of the wrong type', '#orders {"id":"1","_y":1}', /^_y \(type\) must be a string/],
    ['a correlation id of the wrong type', '#orders {"id":"1","_c":{}}', /^_c \(correlation id\) must be a string/],
    ['a key of the wrong type', '#orders {"id":"1","_k":null}', /^_k \(key\) must be a string or an integer/],
    ['a nested document that is not an object', '#orders {"_d":[1],"_k":"1"}', /^_d \(document\) must be a JSON object/],
    ['a nested document beside flat keys', '#orders {"_d":{"id":"1"},"status":"x"}', /^with _d, every document key goes inside _d/],
    ['a delete carrying a document', '#orders {"id":"1","_op":"d","status":"x"}', /^a delete carries only "id"/],
    ['a delete carrying _d', '#orders {"_op":"d","_k":"1","_d":{}}', /^a delete carries no document/],
    ['a bad object inside an array', '#orders [{"id":"1"},{"status":"x"}]', /^object 1: missing id/],
    // What a store cannot hold, refused before it gets there (issue 20's drill first).
    ['a NUL in the source', '#orders {"id":"1","s":"x","_s":"a\\u0000","_h":"AAAAAAAAAAA"}', /^source: contains a NUL character/],
    ['a NUL as the event id', '#orders {"id":"1","_e":"\\u0000","_h":"AAAAAAAAAAA"}', /^id: contains a NUL character/],
    ['a lone high surrogate in a value', '#orders {"id":"1","s":"\\uD800"}', /^data\.s contains a lone UTF-16 surrogate/],
    ['an id ending in a lone surrogate', '#orders {"id":"8172\\uD83D"}', /^key: contains a lone UTF-16 surrogate/],
    ['a lone low surrogate in a key', '#orders {"id":"1","\\uDC00k":1}', /^data: a key contains a lone UTF-16 surrogate/],
    ['a NUL in a nested key', '#orders {"id":"1","a":{"b\\u0000":1}}', /^data\.a: a key contains a NUL character/],
    ['a lone surrogate in the type', '#orders {"id":"1","_y":"\\uDFFF"}', /^type: contains a lone UTF-16 surrogate/],
    ['a NUL in the correlation id', '#orders {"id":"1","_c":"\\u0000"}', /^correlationId: contains a NUL character/],
    ['a lone surrogate in the key meta', '#orders {"_k":"\\uD800","x":1}', /^key: contains a lone UTF-16 surrogate/],
    ['an integer above 2^53', '#orders {"id":"1","n":9007199254740993}', /^the number 9007199254740993 at n cannot be stored exactly/],
    ['a number beyond a double', '#orders {"id":"1","n":1e400}', /^the number 1e400 at n cannot be stored exactly/],
    ['a number below a double', '#orders {"id":"1","n":1e-400}', /^the number 1e-400 at n cannot be stored exactly/],
    ['a version above 2^53 written as a number', '#orders {"id":"1","_v":9007199254740993}', /^the number 9007199254740993 at _v cannot be stored/],
  ])('rejects %s with a reason', (_name, text, reason) => {
    expect(rejection(text)).toMatch(reason);
  });

  it('keeps a surrogate pair, an emoji, and numbers that read back as written', () => {
    const [event] = eventsOf(decodePost('#orders {"id":"1","e":"\\uD83D\\uDE00 😀","a":1.50,"b":15e-1,"c":-0,"d":9007199254740991}', post, options));
    expect(event?.data).toEqual({ id: '1', e: '😀 😀', a: 1.5, b: 1.5, c: -0, d: 9007199254740991 });
  });

  it('rejects an array longer than 50 objects', () => {
    const items = Array.from({ length: 51 }, (_, n) => `{"id":"${n}"}`).join(',');
    expect(rejection(`#orders [${items}]`)).toMatch(/^the JSON array has 51 objects; at most 50/);
  });

  it('rejects a document nested deeper than the limit', () => {
    const deep = `${'{"a":'.repeat(12)}1${'}'.repeat(12)}`;
    expect(rejection(`#orders {"id":"1","x":${deep}}`)).toMatch(/nested deeper/);
  });

  it('applies the limits it is given', () => {
    const limits = { ...defaultDocumentLimits, maxStringLength: 3 };
    expect(reasonOf(decodePost('#orders {"id":"1","a":"abcd"}', post, { ...options, limits }))).toMatch(/data\.a is longer than 3/);
  });

  it('rejects a hand-typed post without post meta, saying what is missing', () => {
    expect(rejectionWithoutPost('#orders {"id":"8172"}')).toMatch(/^no version: _v is missing and there is no post id/);
    expect(rejectionWithoutPost('#orders {"id":"8172","_v":1,"_h":"AAAAAAAAAAA"}')).toMatch(/^no event id/);
    expect(rejectionWithoutPost('#orders {"id":"8172","_v":1,"_e":"e","_h":"AAAAAAAAAAA"}')).toMatch(/^no source/);
    // Without _t, the time comes from a version; from one that is no version, there is none.
    expect(rejectionWithoutPost('#orders {"id":"8172","_v":"x","_e":"e","_s":"s","_h":"AAAAAAAAAAA"}')).toMatch(/^no createdAt/);
  });

  it('rejects text far longer than any post', () => {
    expect(rejection(`#orders {"id":"1","a":"${'a'.repeat(100_001)}"}`)).toMatch(/longer than 100000 characters/);
  });

  it('never throws, whatever the text', () => {
    for (const text of ['', '#', '#orders', '#orders {', '#orders [[[[[[[[[[[[[[[[[[[[', '#orders {"id":"1"]', '#orders [update] {"id":"1"', '\uFFFF#orders\u0000{}']) {
      expect(decodePost(text, post, options).ok).toBe(false);
    }
  });
});

describe('createPostDecoder', () => {
  const decode = createPostDecoder(options);
  const message = (overrides: Partial<InboundMessage> = {}): InboundMessage => ({
    id: '1876543210987654321',
    text: '#orders {"id":"8172"}',
    receivedAt: new Date('2026-01-02T11:00:00.000Z'),
    ...postMessageFields(aPost()),
    ...overrides,
  });

  it('decodes the message text with its post meta', () => {
    expect(eventsOf(decode(message()))[0]).toMatchObject({ id: 'x:1876543210987654321', createdAt: '2026-01-02T10:00:00.000Z' });
  });

  it('dates a post without a creation time by when it was received', () => {
    expect(eventsOf(decode(message({ ...postMessageFields(aPost({ createdAt: undefined })) })))[0]?.createdAt).toBe('2026-01-02T11:00:00.000Z');
  });

  it('restores t.co links from the post meta', () => {
    const x = throughX('#orders {"id":"8172","site":"example.com"}');
    expect(eventsOf(decode(message({ text: x.text, ...postMessageFields(x.post) })))[0]?.data).toEqual({ id: '8172', site: 'http://example.com' });
  });
});

describe('versions on the shared clock', () => {
  const at = Date.parse('2026-12-06T10:00:00.123Z');
  const onTheClock = anEvent({ version: versionAt(at) + 5n, createdAt: new Date(at).toISOString() });

  it('leaves _t out when the version already says the time, and the decoder reads the time from _v', () => {
    const text = encodeOne(onTheClock);
    expect(text).not.toContain('"_t"');
    expect(eventsOf(decodePost(text, aPost(), options))).toEqual([onTheClock]);
  });

  it('writes _t when the time differs from the version\'s, or the version is a small one of an older release', () => {
    const later = { ...onTheClock, createdAt: new Date(at + 1).toISOString() };
    expect(encodeOne(later)).toContain(`"_t":${String(at + 1)}`);
    expect(eventsOf(decodePost(encodeOne(later), aPost(), options))).toEqual([later]);
    expect(encodeOne(anEvent({ version: 42n }))).toContain('"_t":');
  });

  it('signs the time read from the version: a post whose _v is edited to another millisecond fails its signature', () => {
    const text = encodeOne(onTheClock).replace(`"_v":"${String(onTheClock.version)}"`, `"_v":"${String(onTheClock.version + (1n << 22n))}"`);
    expect(reasonOf(decodePost(text, aPost(), options))).toMatch(/^bad signature/);
  });
});
