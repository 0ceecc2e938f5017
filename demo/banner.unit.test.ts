import { describe, expect, it } from 'vitest';
import { banner, trustLine } from './banner.js';
import { aDemoConfig } from './demo-config.fixture.js';
import type { Demo } from './demo.js';

const overX = {
  hashtag: 'orders',
  transport: 'x',
  urls: { writeApp: 'http://127.0.0.1:3000', publisher: 'http://127.0.0.1:3001', consumer: 'http://127.0.0.1:3002', xEmulator: 'https://127.0.0.1:3443' },
} as unknown as Demo;

describe('the demo banner', () => {
  it.each([
    ['open', /^TRUST=open: any account posting #orders can change this read model/m],
    ['authors', /^TRUST=authors: only the publisher's posts and @trusted_fan's apply/m],
    ['signed', /^TRUST=signed: only events the publisher signed apply/m],
    ['signed,authors', /^TRUST=signed,authors: the publisher's signed posts apply, and hand-typed ones only from @trusted_fan/m],
  ] as const)('says whose messages apply under --trust %s', (trust, line) => {
    const text = banner(overX, aDemoConfig('/tmp/demo', { trust }), 1234);
    expect(text).toMatch(line);
    expect(text.match(/^TRUST=/gm)).toHaveLength(1);
  });

  it('names the broker as the way in when the demo runs over Redis', () => {
    expect(trustLine('open', "anyone who can write to the demo's Redis stream")).toBe(
      "TRUST=open: anyone who can write to the demo's Redis stream can change this read model. That is the demo's fun, and only for demos.",
    );
  });
});
