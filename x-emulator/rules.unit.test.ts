import { describe, expect, it } from 'vitest';
import { matchesRule, parseRule, type MatchablePost } from './rules.js';
import { wordsOf } from './text.js';

function post(overrides: Partial<MatchablePost> & { source: string }): MatchablePost {
  return {
    authorId: '42',
    username: 'alice',
    words: wordsOf(overrides.source),
    hashtags: new Set(),
    mentions: new Set(),
    cashtags: new Set(),
    hasLinks: false,
    ...overrides,
  };
}

function matches(rule: string, target: MatchablePost): boolean {
  const parsed = parseRule(rule, 1024);
  if (!parsed.ok) throw new Error(parsed.details.join('; '));
  return matchesRule(parsed.expr, target);
}

const orders = post({ source: '#Orders {"id":"1","status":"SHIPPED"}', hashtags: new Set(['orders']) });

describe('stream rule language', () => {
  it('matches a hashtag case-insensitively', () => {
    expect(matches('#ORDERS', orders)).toBe(true);
    expect(matches('#customers', orders)).toBe(false);
  });

  it('matches from: by user name or by id', () => {
    expect(matches('#orders from:Alice', orders)).toBe(true);
    expect(matches('#orders from:42', orders)).toBe(true);
    expect(matches('#orders from:bob', orders)).toBe(false);
  });

  it('treats -is:retweet as always true because the emulator has no retweets', () => {
    expect(matches('#orders -is:retweet', orders)).toBe(true);
  });

  it('binds juxtaposition tighter than OR, and honours parentheses and negation', () => {
    expect(matches('#customers OR #orders shipped', orders)).toBe(true);
    expect(matches('(#customers OR #orders) -shipped', orders)).toBe(false);
    expect(matches('#orders -(from:bob OR from:carol)', orders)).toBe(true);
    expect(matches('"status":"shipped"', orders)).toBe(true);
  });

  it.each([
    ['#orders or #customers', 'Ambiguous use of or'],
    ['-#orders', 'non-negation'],
    ['is:retweet', 'non-negation'],
    ['(#orders', 'Unbalanced parentheses'],
    ['#orders)', 'Unbalanced parentheses'],
    ['#orders lang2:xx', 'invalid operator'],
    ['#orders OR', 'Expected a term'],
    ['x'.repeat(1025), 'maximum of 1024'],
  ])('refuses %s with a reason', (rule, reason) => {
    const parsed = parseRule(rule, 1024);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.details.join(' ')).toContain(reason);
  });
});
