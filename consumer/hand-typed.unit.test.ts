import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import { aChangeEvent } from '../events/change-event.fixture.js';
import type { ChangeEvent } from '../events/envelope.js';
import { createHashtagMap, createPostDecoder, encodePosts, postMessageFields } from '../transports/x/post-codec.js';
import { createEventSigner } from '../events/signature.js';
import type { InboundMessage, MessageHandler } from '../transports/transport.js';
import { createConsumerPipeline } from './pipeline.js';
import { createEmbeddedReadModelStore } from './stores/embedded/embedded-read-model-store.js';
import type { ReadModelStore } from './stores/read-model-store.js';
import { authorsTrust, openTrust, signedAuthorsTrust, signedTrust, type TrustPolicy } from './trust.js';

/**
 * Who may say what on X (issue 21): the publisher signs its posts; a post without its signature was
 * typed by a person, and under `open` that person is a stranger, who may neither delete nor change
 * a document the write database owns.
 */

const hashtags = createHashtagMap(['orders']);
const signer = createEventSigner('test-key-test-key-test-key-test-key');
const decode = createPostDecoder({ hashtags, verify: (event, signature) => signer.verify(event, signature) });
const logger = createLogger({ level: 'silent' });

let postId = 1_900_000_000_000_000_000n;
const authorIds: Record<string, string> = { stranger: '4242', someone_else: '4343', tweetbus: '1000000000000000001', alice: '2244994945' };

function aPost(text: string, username = 'stranger'): InboundMessage {
  postId += 1n;
  const id = postId.toString();
  const authorId = authorIds[username] ?? '9999';
  return { id, text, receivedAt: new Date('2026-03-01T10:00:01.000Z'), ...postMessageFields({ id, authorId, username, createdAt: '2026-03-01T10:00:00.000Z', urls: [] }) };
}

function publisherPost(event: ChangeEvent): InboundMessage {
  const [post] = encodePosts([event], { hashtags, sign: (e) => signer.sign(e) });
  return aPost(post?.text ?? '', 'tweetbus');
}

const fromDatabase = (key: string, version: number, status: string): ChangeEvent =>
  aChangeEvent({ id: `db-${key}-${String(version)}`, source: 'dvx_orders', key, version: BigInt(version), data: { id: key, status } });

let store: ReadModelStore;

// One store for the file: each test works on keys of its own.
beforeAll(async () => {
  store = await createEmbeddedReadModelStore({}, { logger: createLogger({ level: 'silent' }) });
});

afterAll(async () => {
  await store.close();
});

/**
 * A pipeline under `trust` over the file's store (made at its first batch, once the store is open).
 * It hands each batch over and answers with the reasons of what it rejected, by message id.
 */
function pipelineUnder(trust: TrustPolicy): (...batch: InboundMessage[]) => Promise<Map<string, string>> {
  let handle: MessageHandler | undefined;
  return async (...batch) => {
    handle ??= createConsumerPipeline({ decode, trust, store, logger, now: () => new Date('2026-03-01T10:00:02.000Z'), transportName: 'x' });
    const result = (await handle(batch)) ?? { rejected: [] };
    return new Map(result.rejected.map((r) => [r.message.id, r.reason]));
  };
}

const reasonsFor = pipelineUnder(openTrust());

describe('hand-typed posts under open trust', () => {
  it('never change a document the write database owns, and the publisher\'s signed post still does', async () => {
    await store.applyBatch([fromDatabase('8172', 1, 'NEW')]);

    const stranger = aPost('#orders {"id":"8172","status":"HACKED"}');
    const publisher = publisherPost(fromDatabase('8172', 2, 'SHIPPED'));
    const reasons = await reasonsFor(stranger, publisher);

    expect(reasons.get(stranger.id)).toBe('orders/8172 belongs to the write database (source "dvx_orders"); a hand-typed post may not change it');
    expect(reasons.has(publisher.id)).toBe(false);
    expect(await store.get('orders', '8172')).toMatchObject({ version: 2n, source: 'dvx_orders', data: { status: 'SHIPPED' } });
    expect((await store.listDeadLetters({ limit: 5 })).map((l) => l.messageId)).toContain(stranger.id);
  });

  it('never bring back a document the database deleted', async () => {
    await store.applyBatch([fromDatabase('8173', 1, 'NEW'), { ...fromDatabase('8173', 2, 'NEW'), op: 'delete', data: null, type: 'orders.deleted' }]);

    const reasons = await reasonsFor(aPost('#orders {"id":"8173","status":"BACK"}'));

    expect([...reasons.values()]).toEqual([expect.stringMatching(/^orders\/8173 belongs to the write database/)]);
    expect(await store.get('orders', '8173')).toBeUndefined();
  });

  it('see the owner the same batch gives a document, ahead of them', async () => {
    const publisher = publisherPost(fromDatabase('8174', 1, 'NEW'));
    const stranger = aPost('#orders {"id":"8174","status":"HACKED"}');

    const reasons = await reasonsFor(publisher, stranger);

    expect(reasons.get(stranger.id)).toMatch(/^orders\/8174 belongs to the write database/);
    expect(await store.get('orders', '8174')).toMatchObject({ data: { status: 'NEW' } });
  });

  it('may write documents of their own, and change those, but never delete', async () => {
    const first = aPost('#orders {"id":"h-1","status":"MINE"}');
    const second = aPost('#orders {"id":"h-1","status":"STILL MINE"}', 'someone_else');
    const deletion = aPost('#orders {"id":"h-1","_op":"d"}');

    const reasons = await reasonsFor(first, second, deletion);

    expect(reasons.get(deletion.id)).toBe('a hand-typed post may not delete (_op:"d"): delete the row in the write database');
    expect(reasons.size).toBe(1);
    expect(await store.get('orders', 'h-1')).toMatchObject({ source: 'x:@someone_else', data: { status: 'STILL MINE' } });
  });

  it('may not freeze a key with a version of their own, as a number or as a string', async () => {
    await store.applyBatch([fromDatabase('8175', 1, 'NEW')]);
    const asNumber = aPost('#orders {"id":"8175","_op":"d","_v":9000000000000000000}');
    const asString = aPost('#orders {"id":"h-v9s","status":"HUGE","_v":"9000000000000000000"}');

    const reasons = await reasonsFor(asNumber, asString);

    expect(reasons.get(asNumber.id)).toMatch(/^forbidden meta: _v may be written only by the publisher/);
    expect(reasons.get(asString.id)).toMatch(/^forbidden meta: _v may be written only by the publisher/);
    expect(await store.get('orders', 'h-v9s', { includeDeleted: true })).toBeUndefined();
    await reasonsFor(publisherPost(fromDatabase('8175', 2, 'PAID')));
    expect(await store.get('orders', '8175')).toMatchObject({ version: 2n, data: { status: 'PAID' } });
  });

  it('may not replay a genuine post with its text edited', async () => {
    const genuine = publisherPost(fromDatabase('8176', 5, 'NEW'));
    const edited = aPost(genuine.text.replace('"NEW"', '"FREE"'));

    const reasons = await reasonsFor(edited);

    expect(reasons.get(edited.id)).toMatch(/^bad signature: _h is not the publisher's signature of this event/);
    expect(await store.get('orders', '8176')).toBeUndefined();
  });
});

describe('posts under TRUST=authors (the publisher\'s account and alice on the list)', () => {
  const reasons = pipelineUnder(authorsTrust([authorIds['tweetbus'] ?? '', authorIds['alice'] ?? '']));

  it('dead-letter a stranger\'s post as an untrusted author, even a genuine post of the publisher re-posted', async () => {
    const genuine = publisherPost(fromDatabase('a-1', 1, 'NEW'));
    const stranger = aPost('#orders {"id":"a-2","status":"MINE"}');
    const reposted = aPost(genuine.text);

    const found = await reasons(genuine, stranger, reposted);

    expect(found.get(stranger.id)).toBe('untrusted author 4242');
    expect(found.get(reposted.id)).toBe('untrusted author 4242');
    expect(found.has(genuine.id)).toBe(false);
    expect(await store.get('orders', 'a-1')).toMatchObject({ source: 'dvx_orders' });
    expect(await store.get('orders', 'a-2')).toBeUndefined();
  });

  it('let a trusted author change what the database owns, and delete what was made by hand, but not the database\'s rows', async () => {
    await reasons(publisherPost(fromDatabase('a-3', 1, 'NEW')));
    const change = aPost('#orders {"id":"a-3","status":"FIXED BY HAND"}', 'alice');
    const made = aPost('#orders {"id":"a-4","status":"BY HAND"}', 'alice');
    const deleteMade = aPost('#orders {"id":"a-4","_op":"d"}', 'alice');
    const deleteOwned = aPost('#orders {"id":"a-3","_op":"d"}', 'alice');

    const found = await reasons(deleteOwned, change, made, deleteMade);

    expect(found.get(deleteOwned.id)).toBe('orders/a-3 belongs to the write database (source "dvx_orders"); delete the row there, not with a post');
    expect(found.size).toBe(1);
    expect(await store.get('orders', 'a-3')).toMatchObject({ source: 'x:@alice', data: { status: 'FIXED BY HAND' } });
    expect(await store.get('orders', 'a-4')).toBeUndefined();
    expect(await store.get('orders', 'a-4', { includeDeleted: true })).toMatchObject({ deleted: true });
  });

  it('still refuse the publisher\'s meta from a trusted author\'s hand-typed post', async () => {
    const post = aPost('#orders {"id":"a-5","status":"X","_v":"9000000000000000000"}', 'alice');
    expect((await reasons(post)).get(post.id)).toMatch(/^forbidden meta: _v/);
  });
});

describe('posts under TRUST=signed', () => {
  const reasons = pipelineUnder(signedTrust());

  it('apply only what the publisher signed: no hand-typed post applies, whoever typed it', async () => {
    const genuine = publisherPost(fromDatabase('s-1', 1, 'NEW'));
    const stranger = aPost('#orders {"id":"s-2","status":"MINE"}');
    const alice = aPost('#orders {"id":"s-1","status":"FIXED BY HAND"}', 'alice');

    const found = await reasons(genuine, stranger, alice);

    const notSigned = 'not signed: TRUST=signed applies only events the publisher signed with TRUST_HMAC_KEY';
    expect([found.get(stranger.id), found.get(alice.id)]).toEqual([notSigned, notSigned]);
    expect(found.has(genuine.id)).toBe(false);
    expect(await store.get('orders', 's-1')).toMatchObject({ source: 'dvx_orders', data: { status: 'NEW' } });
    expect(await store.get('orders', 's-2')).toBeUndefined();
  });

  it('refuse an edited genuine post, and a delete or a version typed by hand, each with its reason', async () => {
    const genuine = publisherPost(fromDatabase('s-3', 1, 'NEW'));
    await reasons(genuine);
    const edited = aPost(genuine.text.replace('"NEW"', '"HACKED"'));
    const deleting = aPost('#orders {"id":"s-3","_op":"d"}');
    const freezing = aPost('#orders {"id":"s-3","status":"HACKED","_v":9000000000000000000}');

    const found = await reasons(edited, deleting, freezing);

    expect(found.get(edited.id)).toMatch(/^bad signature/);
    expect(found.get(deleting.id)).toMatch(/^not signed/);
    expect(found.get(freezing.id)).toMatch(/^forbidden meta: _v/);
    expect(await store.get('orders', 's-3')).toMatchObject({ version: 1n, data: { status: 'NEW' } });
  });

  it('let a genuine post re-posted by anyone say only what the publisher said: the version gate skips it', async () => {
    const genuine = publisherPost(fromDatabase('s-4', 1, 'NEW'));
    await reasons(genuine, publisherPost(fromDatabase('s-4', 2, 'SHIPPED')));
    const reposted = aPost(genuine.text);

    expect((await reasons(reposted)).size).toBe(0);
    expect(await store.get('orders', 's-4')).toMatchObject({ version: 2n, data: { status: 'SHIPPED' } });
  });
});

describe('posts under TRUST=signed,authors (alice on the list)', () => {
  const reasons = pipelineUnder(signedAuthorsTrust([authorIds['alice'] ?? '']));

  it('apply the publisher\'s signed posts, and hand-typed posts only from the list', async () => {
    const genuine = publisherPost(fromDatabase('sa-1', 1, 'NEW'));
    const stranger = aPost('#orders {"id":"sa-2","status":"MINE"}');
    const alice = aPost('#orders {"id":"sa-1","status":"FIXED BY HAND"}', 'alice');

    const found = await reasons(genuine, stranger, alice);

    expect(found.get(stranger.id)).toBe('untrusted author 4242: not signed by the publisher, and not on X_TRUSTED_AUTHOR_IDS');
    expect(found.size).toBe(1);
    expect(await store.get('orders', 'sa-1')).toMatchObject({ source: 'x:@alice', data: { status: 'FIXED BY HAND' } });
    expect(await store.get('orders', 'sa-2')).toBeUndefined();
  });

  it('hold a trusted author to the rules for hand-typed posts: no meta, no deleting the database\'s rows', async () => {
    await reasons(publisherPost(fromDatabase('sa-3', 1, 'NEW')));
    const meta = aPost('#orders {"id":"sa-3","_v":9000000000000000000}', 'alice');
    const deleting = aPost('#orders {"id":"sa-3","_op":"d"}', 'alice');

    const found = await reasons(meta, deleting);

    expect(found.get(meta.id)).toMatch(/^forbidden meta: _v/);
    expect(found.get(deleting.id)).toMatch(/^orders\/sa-3 belongs to the write database/);
    expect(await store.get('orders', 'sa-3')).toMatchObject({ version: 1n, source: 'dvx_orders' });
  });
});
