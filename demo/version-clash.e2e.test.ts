import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../common/logger.js';
import { waitUntil } from '../common/wait.fixture.js';
import { aChangeEvent } from '../events/change-event.fixture.js';
import { changeEventToJson } from '../events/envelope.js';
import { createHashtagMap, encodePosts } from '../transports/x/post-codec.js';
import { createEventSigner } from '../events/signature.js';
import { aDemoConfig } from './demo-config.fixture.js';
import { startDemo, trustedDemoUser, type Demo } from './demo.js';

/**
 * Issue 22 on the offline demo (`npm start -- --trust authors`): database changes and hand-typed
 * posts share one version space, so the later change wins whoever made it, and no version from the
 * far future can hold a key.
 */

const logger = createLogger({ level: 'silent' });
let demo: Demo;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tweetbus-version-clash-'));
  demo = await startDemo(aDemoConfig(dataDir, { trust: 'authors' }), logger);
});

afterAll(async () => {
  await demo.close();
  await rm(dataDir, { recursive: true, force: true });
});

const orderSchema = z.object({ version: z.string(), source: z.string(), data: z.object({ status: z.string() }) });
const deadLettersSchema = z.object({ items: z.array(z.object({ messageId: z.string(), reason: z.string() })) });

function emulator(): NonNullable<Demo['emulator']> {
  if (demo.emulator === undefined) throw new Error('the demo runs over X');
  return demo.emulator;
}

async function send(method: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${demo.urls.writeApp}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** The order once it reads `status`. */
function orderReading(key: string, status: string): Promise<z.infer<typeof orderSchema>> {
  return waitUntil(`orders/${key} to read ${status}`, async () => {
    const res = await fetch(`${demo.urls.consumer}/api/orders/${key}`);
    const order = res.status === 200 ? orderSchema.parse(await res.json()) : undefined;
    return order?.data.status === status ? order : undefined;
  }, { timeoutMs: 15_000, intervalMs: 50 });
}

describe('one version space on the demo', () => {
  it('shows the database\'s update made after a hand post, and a hand post made after the database\'s update', async () => {
    expect((await send('POST', '/orders', { id: 'clash', status: 'NEW' })).status).toBe(201);
    await orderReading('clash', 'NEW');

    await emulator().handPost(trustedDemoUser, '#orders {"id":"clash","status":"FIXED BY HAND"}');
    await orderReading('clash', 'FIXED BY HAND');
    expect((await send('PUT', '/orders/clash', { status: 'SHIPPED' })).status).toBe(200);
    const database = await orderReading('clash', 'SHIPPED');
    expect(database.source).toBe('dvx_orders');

    await emulator().handPost(trustedDemoUser, '#orders {"id":"clash","status":"HELD AT THE DOOR"}');
    const post = await orderReading('clash', 'HELD AT THE DOOR');
    expect(post.source).toBe(`x:@${trustedDemoUser}`);
    expect(BigInt(post.version)).toBeGreaterThan(BigInt(database.version));
  });

  it('lets no version from the far future hold a key: refused at the publisher\'s door, dead-lettered when signed into a post', async () => {
    expect((await send('POST', '/orders', { id: 'future', status: 'NEW' })).status).toBe(201);
    await orderReading('future', 'NEW');
    const far = aChangeEvent({ id: 'far-future', source: 'dvx_orders', key: 'future', version: 9_000_000_000_000_000_000n, data: { id: 'future', status: 'FROZEN' } });

    const door = await fetch(`${demo.urls.publisher}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([changeEventToJson(far)]) });
    expect(door.status).toBe(400);

    // Signed with the demo's own key and posted by an allowed author: it verifies, and still never applies.
    const signer = createEventSigner((await readFile(join(dataDir, 'hmac-key'), 'utf8')).trim());
    const [signed] = encodePosts([far], { hashtags: createHashtagMap(['orders']), sign: (e) => signer.sign(e) });
    const posted = await emulator().handPost(trustedDemoUser, signed?.text ?? '');
    const letter = await waitUntil('the far-future post dead-lettered', async () => {
      const res = await fetch(`${demo.urls.consumer}/api/_deadletters?limit=50`);
      return deadLettersSchema.parse(await res.json()).items.find((i) => i.messageId === posted.id);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(letter.reason).toMatch(/^version 9000000000000000000 of orders\/future stands for 2078-/);

    expect((await send('PUT', '/orders/future', { status: 'SHIPPED' })).status).toBe(200);
    expect((await orderReading('future', 'SHIPPED')).source).toBe('dvx_orders');
  });
});
