import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTransportError, TransportError } from '../../common/errors.js';
import { logSink } from '../../common/log-sink.fixture.js';
import { createHashtagMap } from './post-codec.js';
import { anEvent } from '../transport.contract.js';
import { createXPublisher } from './x-publisher.js';

const api = 'https://x.test';
const credentials = { appKey: 'test-app-key', appSecret: 'test-app-secret', accessToken: 'test-access-token', accessSecret: 'test-access-secret' };

function publisherWith(logger = logSink().logger) {
  return createXPublisher({ apiUrl: api, credentials }, { hashtags: createHashtagMap(['orders', 'customers']), logger, retryBackoff: () => 1, duplicateSearchDelaysMs: [1, 1, 1] });
}

const duplicate403 = { detail: 'You are not allowed to create a Tweet with duplicate content.', type: 'about:blank', title: 'Forbidden', status: 403 };
const ourUserId = '1000000000000000001';

/** GET /2/users/me, then `searches` recent searches answering `posts`; records each search's query. */
function meAndSearch(posts: { id: string; text: string; author_id: string }[], searches: number, queries: string[] = []): nock.Scope {
  return nock(api)
    .get('/2/users/me')
    .reply(200, { data: { id: ourUserId, name: 'Publisher', username: 'publisher' } })
    .get('/2/tweets/search/recent')
    .query(true)
    .times(searches)
    .reply(200, (uri) => {
      queries.push(new URL(uri, api).searchParams.get('query') ?? '');
      return posts.length === 0 ? { meta: { result_count: 0 } } : { data: posts, meta: { result_count: posts.length } };
    });
}

async function failureOf(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (err) {
    if (isTransportError(err)) return err;
    throw err;
  }
  throw new Error('expected a TransportError');
}

const created = (id: string) => ({ data: { id, text: 'ignored', edit_history_tweet_ids: [id] } });

describe('X publisher', () => {
  beforeEach(() => {
    nock.disableNetConnect();
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('posts each encoded post in order, signed with OAuth 1.0a, to the configured base URL', async () => {
    const bodies: string[] = [];
    const scope = nock(api)
      .post('/2/tweets', (body: { text: string }) => {
        bodies.push(body.text);
        return true;
      })
      .matchHeader('authorization', /^OAuth .*oauth_consumer_key="test-app-key".*oauth_token="test-access-token"/)
      .times(2)
      .reply(201, created('1'));
    const publisher = publisherWith();
    const first = anEvent('orders', 'o1', 1n);
    const second = anEvent('customers', 'c1', 1n);
    await publisher.publish([first, second]);
    expect(scope.isDone()).toBe(true);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toMatch(/^#orders /);
    expect(bodies[0]).toContain(first.id);
    expect(bodies[1]).toMatch(/^#customers /);
    await publisher.close();
    await publisher.close();
  });

  it('a 429 becomes a rateLimited error with the reset time X gave', async () => {
    nock(api)
      .post('/2/tweets')
      .reply(429, { errors: [{ code: 88, message: 'Rate limit exceeded' }] }, {
        'x-rate-limit-limit': '100',
        'x-rate-limit-remaining': '0',
        'x-rate-limit-reset': '1900000000',
      });
    const err = await failureOf(publisherWith().publish([anEvent('orders', 'o1', 1n)]));
    expect(err.kind).toBe('rateLimited');
    expect(err.resetAt?.getTime()).toBe(1_900_000_000_000);
    expect(err.published).toBe(0);
  });

  it('a 429 with the 24-hour user quota used up waits for that quota to reset', async () => {
    nock(api)
      .post('/2/tweets')
      .reply(429, { errors: [{ code: 88, message: 'Rate limit exceeded' }] }, {
        'x-rate-limit-limit': '100',
        'x-rate-limit-remaining': '57',
        'x-rate-limit-reset': '1900000000',
        'x-user-limit-24hour-limit': '100',
        'x-user-limit-24hour-remaining': '0',
        'x-user-limit-24hour-reset': '1900050000',
      });
    const err = await failureOf(publisherWith().publish([anEvent('orders', 'o1', 1n)]));
    expect(err.kind).toBe('rateLimited');
    expect(err.resetAt?.getTime()).toBe(1_900_050_000_000);
  });

  it('a 5xx is retried with the same text and then succeeds', async () => {
    const texts: string[] = [];
    const record = (body: { text: string }) => {
      texts.push(body.text);
      return true;
    };
    nock(api).post('/2/tweets', record).reply(503, { title: 'Service Unavailable' }).post('/2/tweets', record).reply(201, created('2'));
    await publisherWith().publish([anEvent('orders', 'o1', 1n)]);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toBe(texts[1]);
  });

  it('a duplicate 403 after a retry of an unknown outcome counts as posted once recent search finds our post with every event id', async () => {
    const sink = logSink();
    const event = anEvent('orders', 'o1', 1n);
    const texts: string[] = [];
    nock(api)
      .post('/2/tweets', (body: { text: string }) => texts.push(body.text) > 0)
      .replyWithError('socket hang up')
      .post('/2/tweets')
      .reply(403, duplicate403);
    const queries: string[] = [];
    // The first search (index lag) finds nothing; the second finds the post the lost attempt made.
    meAndSearch([], 1, queries);
    nock(api)
      .get('/2/tweets/search/recent')
      .query(true)
      .reply(200, (uri) => {
        queries.push(new URL(uri, api).searchParams.get('query') ?? '');
        return { data: [{ id: '77', text: texts[0] ?? '', author_id: ourUserId }], meta: { result_count: 1 } };
      });
    const publisher = publisherWith(sink.logger);
    await publisher.publish([event]);
    expect(queries).toEqual([`from:${ourUserId} "${event.id}"`, `from:${ourUserId} "${event.id}"`]);
    const warning = sink.lines.find((l) => /duplicate/.test(l.msg ?? ''));
    expect(warning?.level).toBe(40);
    await expect(publisher.check()).resolves.toBeUndefined();
    expect(sink.raw.join('')).not.toContain('test-access-secret');
    expect(sink.raw.join('')).not.toContain('test-access-token');
  });

  it('a duplicate 403 for a post recent search cannot find fails the publish, is logged as an error, and fails check() until a post goes through', async () => {
    const sink = logSink();
    const event = anEvent('orders', 'o1', 1n);
    nock(api).post('/2/tweets').reply(403, duplicate403);
    // Someone else's post, and ours without this event id: neither confirms it.
    meAndSearch(
      [
        { id: '70', text: `#orders {"_e":"${event.id}"}`, author_id: '999' },
        { id: '71', text: '#orders {"_e":"another-event"}', author_id: ourUserId },
      ],
      3,
    );
    const publisher = publisherWith(sink.logger);
    const err = await failureOf(publisher.publish([event]));
    expect(err.kind).toBe('retryable');
    expect(err.published).toBe(0);
    expect(err.message).toMatch(/duplicate, but recent search does not find it/);
    expect(err.message).toContain(event.id);
    expect(sink.lines.find((l) => /does not find it/.test(l.msg ?? ''))?.level).toBe(50);
    await expect(publisher.check()).rejects.toThrow(/does not find it/);

    nock(api).post('/2/tweets').reply(201, created('80'));
    await publisher.publish([event]);
    await expect(publisher.check()).resolves.toBeUndefined();
  });

  it('a duplicate 403 whose confirming search fails is a retryable failure that says so', async () => {
    nock(api).post('/2/tweets').reply(403, duplicate403);
    nock(api).get('/2/users/me').reply(200, { data: { id: ourUserId } }).get('/2/tweets/search/recent').query(true).reply(503, { title: 'Service Unavailable' });
    const publisher = publisherWith();
    const err = await failureOf(publisher.publish([anEvent('orders', 'o1', 1n)]));
    expect(err.kind).toBe('retryable');
    expect(err.message).toMatch(/the recent search to confirm it failed/);
    await expect(publisher.check()).rejects.toThrow(/confirm it failed/);
  });

  it('401 is an auth error that tells the operator which credentials to check', async () => {
    nock(api).post('/2/tweets').reply(401, { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    const err = await failureOf(publisherWith().publish([anEvent('orders', 'o1', 1n)]));
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/access token/);
  });

  it('403 for app permissions is an auth error that says to allow Read and Write and regenerate the tokens', async () => {
    nock(api).post('/2/tweets').reply(403, {
      title: 'Unsupported Authentication',
      detail: 'Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.',
      type: 'https://api.twitter.com/2/problems/oauth1-permissions',
      status: 403,
    });
    const err = await failureOf(publisherWith().publish([anEvent('orders', 'o1', 1n)]));
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/Read and Write/);
    expect(err.message).toMatch(/regenerate/);
  });

  it('a post X finds too long is an invalid error', async () => {
    nock(api).post('/2/tweets').reply(400, { errors: [{ message: 'Your Tweet text is too long.' }], title: 'Invalid Request', detail: 'One or more parameters to your request was invalid.', type: 'about:blank' });
    const err = await failureOf(publisherWith().publish([anEvent('orders', 'o1', 1n)]));
    expect(err.kind).toBe('invalid');
  });

  it('network errors that persist become a retryable error after the retries', async () => {
    nock(api).post('/2/tweets').times(3).replyWithError('connect ECONNREFUSED');
    const err = await failureOf(publisherWith().publish([anEvent('orders', 'o1', 1n)]));
    expect(err.kind).toBe('retryable');
  });

  it('after a failure, published says how many leading events went out', async () => {
    nock(api)
      .post('/2/tweets')
      .reply(201, created('1'))
      .post('/2/tweets')
      .reply(429, { errors: [{ code: 88, message: 'Rate limit exceeded' }] }, { 'x-rate-limit-limit': '1', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': '1900000000' });
    const err = await failureOf(publisherWith().publish([anEvent('orders', 'o1', 1n), anEvent('orders', 'o2', 1n), anEvent('customers', 'c1', 1n)]));
    expect(err.kind).toBe('rateLimited');
    expect(err.published).toBe(2);
  });
});
