import { describe, expect, it } from 'vitest';
import { processPostText } from './text.js';

const fixedLink = () => 'https://t.co/AbCdEfGhIj';

/** Slices by code points, as X's entity indices count. */
const slice = (text: string, start: number, end: number) => Array.from(text).slice(start, end).join('');

describe('processPostText', () => {
  it('returns & < > as HTML entities', () => {
    const result = processPostText('#orders {"n":"Smith & Sons <UK>"}', fixedLink);
    expect(result.ok && result.text).toBe('#orders {"n":"Smith &amp; Sons &lt;UK&gt;"}');
  });

  it('wraps protocol-less URLs in a t.co link and lists the original in entities.urls', () => {
    const result = processPostText('😀 #orders {"site":"example.com","file":"report.py"}', fixedLink);
    if (!result.ok) throw new Error(result.reason);
    expect(result.text).toBe('😀 #orders {"site":"https://t.co/AbCdEfGhIj","file":"https://t.co/AbCdEfGhIj"}');
    expect(result.entities.urls.map((u) => u.expanded_url)).toEqual(['example.com', 'report.py']);
    for (const url of result.entities.urls) expect(slice(result.text, url.start, url.end)).toBe(url.url);
    expect(result.entities.urls[0]?.display_url).toBe('example.com');
  });

  it('maps hashtag, mention and cashtag positions onto the returned text', () => {
    const result = processPostText('a & b #Orders @Bob $ABC', fixedLink);
    if (!result.ok) throw new Error(result.reason);
    const [hashtag] = result.entities.hashtags;
    const [mention] = result.entities.mentions;
    const [cashtag] = result.entities.cashtags;
    expect(hashtag && slice(result.text, hashtag.start, hashtag.end)).toBe('#Orders');
    expect(mention && slice(result.text, mention.start, mention.end)).toBe('@Bob');
    expect(cashtag && slice(result.text, cashtag.start, cashtag.end)).toBe('$ABC');
    expect(hashtag?.tag).toBe('Orders');
  });

  it('counts weighted length with twitter-text: 140 CJK characters fit, 141 do not', () => {
    expect(processPostText('漢'.repeat(140)).ok).toBe(true);
    expect(processPostText('漢'.repeat(141))).toEqual({ ok: false, reason: 'tooLong' });
  });

  it('refuses more than one cashtag', () => {
    expect(processPostText('$ABC and $DEF')).toEqual({ ok: false, reason: 'tooManyCashtags' });
  });

  it('NFC-normalizes the text', () => {
    const result = processPostText('cafe\u0301');
    expect(result.ok && result.text).toBe('caf\u00e9');
  });

  it('refuses empty text', () => {
    expect(processPostText('   ')).toEqual({ ok: false, reason: 'empty' });
  });
});
