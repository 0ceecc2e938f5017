import { describe, expect, it } from 'vitest';
import { renderDemoPage, type DemoPageModel } from './page.js';

const model: DemoPageModel = { hashtag: 'orders', transport: 'X', handPosts: true, trust: 'open', trustedUser: 'trusted_fan', links: {} };

describe('the live page', () => {
  it.each([
    ['open', { ...model }],
    ['authors', { ...model, trust: 'authors' as const }],
    ['Redis Streams', { ...model, transport: 'Redis Streams', handPosts: false }],
  ])('ships a script that parses (%s)', (_name, page) => {
    const scripts = [...renderDemoPage(page).matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    expect(scripts.length).toBeGreaterThan(0);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- parsed, never run
    for (const script of scripts) expect(() => new Function(script)).not.toThrow();
  });

  it('marks a post as handled or dead-lettered with its reason', () => {
    const html = renderDemoPage(model);
    expect(html).toContain("'✗ dead-lettered: ' + o.reason");
    expect(html).toContain("'✓ handled'");
  });
});
