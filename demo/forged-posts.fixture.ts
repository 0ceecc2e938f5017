import { expect } from 'vitest';
import { z } from 'zod';
import { waitUntil } from '../common/wait.fixture.js';
import type { Demo } from './demo.js';

/**
 * Issue 21's corpus of forged and hand-typed posts, run against a demo over the X emulator under each
 * trust policy: a database order is made, then strangers try every way to change it. None may apply,
 * and each is dead-lettered with its reason (the policy's or the rule's); the order reads exactly as
 * before.
 */
const deadLettersSchema = z.object({ items: z.array(z.object({ messageId: z.string(), reason: z.string() })) });

export async function expectForgedPostsChangeNothing(demo: Demo, key: string, stranger = 'stranger'): Promise<void> {
  const emulator = demo.emulator;
  if (emulator === undefined) throw new Error('the corpus needs the demo over X');
  const created = await fetch(`${demo.urls.writeApp}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: key, status: 'NEW' }) });
  expect(created.status).toBe(201);
  const read = async (): Promise<unknown> => {
    const res = await fetch(`${demo.urls.consumer}/api/orders/${key}`);
    return res.status === 200 ? await res.json() : undefined;
  };
  const before = await waitUntil(`the order ${key}`, read, { timeoutMs: 15_000, intervalMs: 50 });
  const genuine = emulator.recentPosts(50).find((p) => p.text.includes(`"id":"${key}"`));
  expect(genuine?.text).toMatch(/"_h":"[\w-]{11}"/);
  const genuineText = genuine?.text ?? '';

  const corpus: readonly (readonly [string, string, RegExp])[] = [
    ['a stranger deleting', `#orders {"id":"${key}","_op":"d"}`, /^(untrusted author \d+|not signed|a hand-typed post may not delete)/],
    ['a stranger setting _v as a number', `#orders {"id":"${key}","status":"HACKED","_v":9000000000000000000}`, /^(untrusted author \d+|forbidden meta: _v)/],
    ['a stranger setting _v as a string', `#orders {"id":"${key}","status":"HACKED","_v":"9000000000000000000"}`, /^(untrusted author \d+|forbidden meta: _v)/],
    ['a stranger deleting for good with _v', `#orders {"id":"${key}","_op":"d","_v":9000000000000000000}`, /^(untrusted author \d+|forbidden meta: _v)/],
    ['a stranger overwriting', `#orders {"id":"${key}","status":"HACKED"}`, /^(untrusted author \d+|not signed|orders\/\S+ belongs to the write database)/],
    ['a genuine post replayed with its text edited', genuineText.replace('"NEW"', '"HACKED"'), /^(untrusted author \d+|bad signature)/],
  ];
  const letters: { id: string; reason: RegExp; what: string }[] = [];
  for (const [what, text, reason] of corpus) {
    const post = await emulator.handPost(stranger, text);
    letters.push({ id: post.id, reason, what });
  }
  // The genuine post again, re-posted by someone else: it verifies, but its version is not new.
  const reposted = await emulator.handPost(stranger, genuineText);

  const deadLetters = async () => {
    const res = await fetch(`${demo.urls.consumer}/api/_deadletters?limit=100`);
    return deadLettersSchema.parse(await res.json()).items;
  };
  const found = await waitUntil(
    'every forged post dead-lettered',
    async () => {
      const items = await deadLetters();
      return letters.every((l) => items.some((i) => i.messageId === l.id)) ? items : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  for (const letter of letters) expect(found.find((i) => i.messageId === letter.id)?.reason, letter.what).toMatch(letter.reason);
  await waitUntil(
    'the consumer to handle the re-post',
    async () => {
      const checkpoint = await demo.store.load('demo-consumer');
      return checkpoint !== undefined && BigInt(checkpoint) >= BigInt(reposted.id) ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  expect(await read()).toEqual(before);
}
