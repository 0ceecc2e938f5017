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

describe('the trust note', () => {
  it.each<[DemoPageModel, RegExp]>([
    [model, /Trust: <b>open<\/b>, for demos only\. Anyone may hand-type posts/],
    [{ ...model, transport: 'Redis Streams', handPosts: false }, /Trust: <b>open<\/b>, for demos only\. Anyone who can write to this Redis Streams can change the read model/],
    [{ ...model, trust: 'authors' }, /Trust: <b>authors<\/b>\. Only the publisher's posts and @trusted_fan's apply/],
    [{ ...model, trust: 'signed' }, /Trust: <b>signed<\/b>\. Only events the publisher signed with its key apply; anything else on X/],
    [{ ...model, trust: 'signed,authors' }, /Trust: <b>signed,authors<\/b>\. The publisher's signed posts apply, and hand-typed posts only from @trusted_fan/],
  ])('says whose messages apply under %#', (page, note) => {
    expect(renderDemoPage(page)).toMatch(note);
  });

  it('offers an allow-listed user and a stranger where the policy tells them apart', () => {
    const select = '<option value="trusted_fan">@trusted_fan (on the allow-list)</option><option value="stranger">@stranger (not on it)</option>';
    expect(renderDemoPage({ ...model, trust: 'signed,authors' })).toContain(select);
    expect(renderDemoPage({ ...model, trust: 'authors' })).toContain(select);
    expect(renderDemoPage({ ...model, trust: 'signed' })).not.toContain(select);
  });
});
