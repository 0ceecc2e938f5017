import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../common/logger.js';
import { waitUntil } from '../common/wait.fixture.js';
import type { TrustMode } from '../consumer/trust.js';
import { aDemoConfig } from './demo-config.fixture.js';
import { startDemo, trustedDemoUser, type Demo } from './demo.js';
import { expectForgedPostsChangeNothing } from './forged-posts.fixture.js';

/**
 * `npm start -- --trust authors`, `signed,authors` and `signed`: the emulator's hand posts from an
 * allow-listed user and from a stranger, and the corpus of forged posts, under each policy.
 */

const logger = createLogger({ level: 'silent' });

const outcomeSchema = z.object({ status: z.string(), reason: z.string().optional() });
const stateSchema = z.object({ posts: z.array(z.object({ id: z.string(), outcome: outcomeSchema })) });
const orderSchema = z.object({ source: z.string(), data: z.object({ status: z.string() }) });

/** The demo under one policy, started for a describe block and closed after it. */
function demoUnder(trust: TrustMode): () => Demo {
  let demo: Demo | undefined;
  let dataDir = '';
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tweetbus-demo-trust-'));
    demo = await startDemo(aDemoConfig(dataDir, { trust }), logger);
  });
  afterAll(async () => {
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return () => {
    if (demo === undefined) throw new Error('the demo did not start');
    return demo;
  };
}

async function orderStatus(demo: Demo, key: string, status: string): Promise<z.infer<typeof orderSchema>> {
  return waitUntil(`orders/${key} to read ${status}`, async () => {
    const res = await fetch(`${demo.urls.consumer}/api/orders/${key}`);
    const body = res.status === 200 ? orderSchema.parse(await res.json()) : undefined;
    return body?.data.status === status ? body : undefined;
  }, { timeoutMs: 15_000, intervalMs: 50 });
}

/** The live page's outcome of each post, once none is waiting. */
async function outcomesOf(demo: Demo, ids: readonly string[]): Promise<z.infer<typeof outcomeSchema>[]> {
  return waitUntil('the posts handled', async () => {
    const state = stateSchema.parse(await (await fetch(`${demo.urls.writeApp}/demo/state`)).json());
    const byId = new Map(state.posts.map((p) => [p.id, p.outcome]));
    const outcomes = ids.map((id) => byId.get(id));
    return outcomes.every((o) => o !== undefined && o.status !== 'waiting') ? outcomes.flatMap((o) => (o === undefined ? [] : [o])) : undefined;
  }, { timeoutMs: 15_000, intervalMs: 100 });
}

/** The emulator's own page, over its self-signed certificate. */
function emulatorPage(demo: Demo): Promise<string> {
  const emulator = emulatorOf(demo);
  return new Promise((resolve, reject) => {
    get(new URL('/', emulator.url), { agent: new Agent({ ca: emulator.ca }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => { resolve(body); });
    }).on('error', reject);
  });
}

function emulatorOf(demo: Demo): NonNullable<Demo['emulator']> {
  if (demo.emulator === undefined) throw new Error('the demo runs over X');
  return demo.emulator;
}

describe.each<TrustMode>(['authors', 'signed,authors'])('the demo under --trust %s', (trust) => {
  const demo = demoUnder(trust);

  it('applies the publisher\'s posts, and no forged or stranger\'s post changes anything', async () => {
    await expectForgedPostsChangeNothing(demo(), 't-1');
  });

  it('applies a hand-typed post from the allow-listed user, also to an order the database owns', async () => {
    await emulatorOf(demo()).handPost(trustedDemoUser, '#orders {"id":"t-1","status":"FIXED BY HAND"}');
    expect((await orderStatus(demo(), 't-1', 'FIXED BY HAND')).source).toBe(`x:@${trustedDemoUser}`);
  });

  it('marks each post on the live page: handled, or dead-lettered with its reason', async () => {
    const trusted = await emulatorOf(demo()).handPost(trustedDemoUser, '#orders {"id":"t-2","status":"FAN"}');
    const stranger = await emulatorOf(demo()).handPost('stranger', '#orders {"id":"t-3","status":"NOPE"}');
    const outcomes = await outcomesOf(demo(), [trusted.id, stranger.id]);
    expect(outcomes[0]).toEqual({ status: 'handled' });
    expect(outcomes[1]).toEqual({ status: 'dead-lettered', reason: expect.stringMatching(/^untrusted author \d+/) as unknown });
  });

  it('offers the allow-listed user and a stranger on the page, and says whose posts apply', async () => {
    const page = await (await fetch(`${demo().urls.writeApp}/`)).text();
    expect(page).toContain(`<option value="${trustedDemoUser}">@${trustedDemoUser} (on the allow-list)</option>`);
    expect(page).toContain('<option value="stranger">');
    expect(page).toContain(`Trust: <b>${trust}</b>`);
    const handPostPage = await emulatorPage(demo());
    expect(handPostPage).toContain(`<b>@${trustedDemoUser}</b> (on the allow-list: applies) or <b>@stranger</b> (not on it`);
    expect(handPostPage).toContain(`value="${trustedDemoUser}" list="users"`);
  });
});

describe('the demo under --trust signed', () => {
  const demo = demoUnder('signed');

  it('applies the publisher\'s signed posts, and no forged or hand-typed post changes anything', async () => {
    await expectForgedPostsChangeNothing(demo(), 's-1');
  });

  it('dead-letters every hand-typed post as not signed, the allow-listed user\'s too', async () => {
    const fan = await emulatorOf(demo()).handPost(trustedDemoUser, '#orders {"id":"s-2","status":"FAN"}');
    const outcomes = await outcomesOf(demo(), [fan.id]);
    expect(outcomes).toEqual([{ status: 'dead-lettered', reason: expect.stringMatching(/^not signed: TRUST=signed applies only events the publisher signed/) as unknown }]);
    const res = await fetch(`${demo().urls.consumer}/api/orders/s-2`);
    expect(res.status).toBe(404);
    expect(await (await fetch(`${demo().urls.writeApp}/`)).text()).toContain('Trust: <b>signed</b>');
  });
});
