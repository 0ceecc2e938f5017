import { describe, expect, it } from 'vitest';
import {
  detectEntities,
  measurePostText,
  restoreLinks,
  straightenQuotes,
  stringifyForX,
  unescapeHtmlEntities,
  xSafeJsonString,
} from './text.js';

describe('measurePostText', () => {
  it('counts CJK characters and emoji sequences as two', () => {
    expect(measurePostText('ab').weightedLength).toBe(2);
    expect(measurePostText('日本').weightedLength).toBe(4);
    expect(measurePostText('👩‍👩‍👧').weightedLength).toBe(2);
  });

  it('counts anything that looks like a URL as 23', () => {
    expect(measurePostText('example.com').weightedLength).toBe(23);
  });

  it('accepts 280 weighted characters and refuses 281', () => {
    expect(measurePostText('a'.repeat(280))).toEqual({ weightedLength: 280, valid: true });
    expect(measurePostText('a'.repeat(281)).valid).toBe(false);
  });

  it('refuses characters X does not accept', () => {
    expect(measurePostText('a\uFFFEb').valid).toBe(false);
  });

  it('takes a larger limit for long posts', () => {
    expect(measurePostText('a'.repeat(281), 25_000).valid).toBe(true);
  });
});

describe('xSafeJsonString', () => {
  it.each([
    ['example.com', '"example\\u002ecom"'],
    ['Smith & Sons <UK>', '"Smith \\u0026 Sons \\u003cUK\\u003e"'],
    ['@jack #tag $ABC', '"\\u0040jack \\u0023tag \\u0024ABC"'],
    ['http://localhost', '"http:\\/\\/localhost"'],
    ['“quoted”', '"\\u201cquoted\\u201d"'],
    ['a\\.b', '"a\\\\\\u002eb"'],
  ])('writes %j as %s', (value, expected) => {
    expect(xSafeJsonString(value)).toBe(expected);
    expect(JSON.parse(expected)).toBe(value);
  });

  it('leaves ordinary text, CJK and emoji readable', () => {
    expect(xSafeJsonString('SHIPPED 日本語 👩‍👩‍👧')).toBe('"SHIPPED 日本語 👩‍👩‍👧"');
  });

  it('escapes every non-ASCII character of a string that X would NFC-normalize', () => {
    const decomposed = 'Cafe\u0301 日本';
    const literal = xSafeJsonString(decomposed);
    expect(literal).toBe('"Cafe\\u0301 \\u65e5\\u672c"');
    expect(literal.normalize('NFC')).toBe(literal);
    expect(JSON.parse(literal)).toBe(decomposed);
  });
});

describe('stringifyForX', () => {
  it('writes numbers as JSON does, and twitter-text finds nothing in them', () => {
    const text = `#orders ${stringifyForX({ a: 1.5, b: -2.25, c: 1e21, d: 5e-7, e: 0.1, f: 123.456 })}`;
    expect(text).toBe('#orders {"a":1.5,"b":-2.25,"c":1e+21,"d":5e-7,"e":0.1,"f":123.456}');
    expect(detectEntities(text).map((e) => e.kind)).toEqual(['hashtag']);
  });

  it('escapes keys as well as values', () => {
    expect(stringifyForX({ 'a@b': { 'c#d': ['x.y'] } })).toBe('{"a\\u0040b":{"c\\u0023d":["x\\u002ey"]}}');
  });

  it('refuses a number JSON cannot hold', () => {
    expect(() => stringifyForX({ a: Number.NaN })).toThrow(RangeError);
  });
});

describe('restoreLinks', () => {
  it('puts back every occurrence of each t.co link', () => {
    const urls = [{ url: 'https://t.co/ab', expandedUrl: 'http://example.com' }];
    expect(restoreLinks('x https://t.co/ab y https://t.co/ab', urls)).toBe('x http://example.com y http://example.com');
  });

  it('replaces a longer link before one that is its prefix', () => {
    const urls = [
      { url: 'https://t.co/ab', expandedUrl: 'http://a.io' },
      { url: 'https://t.co/abc', expandedUrl: 'http://b.io' },
    ];
    expect(restoreLinks('https://t.co/abc https://t.co/ab', urls)).toBe('http://b.io http://a.io');
  });
});

describe('unescapeHtmlEntities', () => {
  it('unescapes the entities X and HTML produce', () => {
    expect(unescapeHtmlEntities('Smith &amp; Sons &lt;UK&gt; &quot;x&quot; &#39;y&#39;')).toBe(`Smith & Sons <UK> "x" 'y'`);
  });

  it('unescapes once, so an escaped entity stays an entity', () => {
    expect(unescapeHtmlEntities('&amp;lt;')).toBe('&lt;');
  });

  it('leaves a bare ampersand and unknown entities alone', () => {
    expect(unescapeHtmlEntities('a & b &nbsp;')).toBe('a & b &nbsp;');
  });
});

describe('straightenQuotes', () => {
  it('turns smart double and single quotes into ASCII ones', () => {
    expect(straightenQuotes('{“id”:„1‟,″x″:‘y’}')).toBe(`{"id":"1","x":'y'}`);
  });
});
