import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import { waitUntil } from '../common/wait.fixture.js';
import { aDemoConfig } from './demo-config.fixture.js';
import { startDemo, trustedDemoUser, type Demo } from './demo.js';
import { expectForgedPostsChangeNothing } from './forged-posts.fixture.js';

/** `npm start -- --trust authors`: the emulator's hand posts from an allow-listed user and from a stranger. */

const logger = createLogger({ level: 'silent' });
let demo: Demo;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tweetbus-demo-trust-'));
  demo = await startDemo(aDemoConfig(dataDir, { trust: 'authors' }), logger);
});

afterAll(async () => {
  await demo.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the demo under --trust authors', () => {
  it('applies the publisher\'s posts, and no forged or stranger\'s post changes anything', async () => {
    await expectForgedPostsChangeNothing(demo, 't-1');
  });

  it('applies a hand-typed post from the allow-listed user, also to an order the database owns', async () => {
    const emulator = demo.emulator;
    if (emulator === undefined) throw new Error('over X');
    await emulator.handPost(trustedDemoUser, '#orders {"id":"t-1","status":"FIXED BY HAND"}');
    const doc = await waitUntil('the trusted post', async () => {
      const res = await fetch(`${demo.urls.consumer}/api/orders/t-1`);
      const body = res.status === 200 ? ((await res.json()) as { source: string; data: { status: string } }) : undefined;
      return body?.data.status === 'FIXED BY HAND' ? body : undefined;
    }, { timeoutMs: 15_000, intervalMs: 50 });
    expect(doc.source).toBe(`x:@${trustedDemoUser}`);
  });

  it('marks each post on the live page: handled, or dead-lettered with its reason', async () => {
    const emulator = demo.emulator;
    if (emulator === undefined) throw new Error('over X');
    const trusted = await emulator.handPost(trustedDemoUser, '#orders {"id":"t-2","status":"FAN"}');
    const stranger = await emulator.handPost('stranger', '#orders {"id":"t-3","status":"NOPE"}');
    const outcomes = await waitUntil('both posts handled', async () => {
      const state = (await (await fetch(`${demo.urls.writeApp}/demo/state`)).json()) as { posts: { id: string; outcome: { status: string; reason?: string } }[] };
      const byId = new Map(state.posts.map((p) => [p.id, p.outcome]));
      const pair = [byId.get(trusted.id), byId.get(stranger.id)];
      return pair.every((o) => o !== undefined && o.status !== 'waiting') ? pair : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(outcomes[0]).toEqual({ status: 'handled' });
    expect(outcomes[1]).toEqual({ status: 'dead-lettered', reason: expect.stringMatching(/^untrusted author \d+$/) as unknown });
  });

  it('offers the allow-listed user and a stranger on the page, and says whose posts apply', async () => {
    const page = await (await fetch(`${demo.urls.writeApp}/`)).text();
    expect(page).toContain(`<option value="${trustedDemoUser}">@${trustedDemoUser} (on the allow-list)</option>`);
    expect(page).toContain('<option value="stranger">');
    expect(page).toContain('Trust: <b>authors</b>');
  });
});
