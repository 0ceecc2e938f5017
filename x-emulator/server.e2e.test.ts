import { createLogger } from '../common/logger.js';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request, Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ApiResponseError,
  ETwitterStreamEvent,
  TwitterApi,
  type ITwitterApiClientPlugin,
  type Tweetv2SearchResult,
  type TweetV2SingleStreamResult,
} from 'twitter-api-v2';
import { startXEmulator, type XEmulator, type XEmulatorOptions } from './server.js';

// ---- helpers ---------------------------------------------------------------------------------------

const started: XEmulator[] = [];

async function emulator(options: Partial<XEmulatorOptions> = {}): Promise<XEmulator> {
  const x = await startXEmulator({ port: 0, logger: createLogger({ level: 'silent' }), ...options });
  started.push(x);
  return x;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((x) => x.close()));
});

/** The recipe from x-api-facts.md: rewrite params.url in both config hooks, and trust the emulator's CA. */
function redirectTo(x: XEmulator): ITwitterApiClientPlugin {
  const rewrite = (url: string) => url.replace(/^https:\/\/api\.(x|twitter)\.com/, x.url);
  return {
    onBeforeRequestConfig({ params }) {
      params.url = rewrite(params.url);
    },
    onBeforeStreamRequestConfig({ params }) {
      params.url = rewrite(params.url);
    },
  };
}

function userClient(x: XEmulator, overrides: Partial<{ appSecret: string; accessToken: string }> = {}): TwitterApi {
  const c = x.credentials;
  return new TwitterApi(
    {
      appKey: c.apiKey,
      appSecret: overrides.appSecret ?? c.apiSecret,
      accessToken: overrides.accessToken ?? c.accessToken,
      accessSecret: c.accessSecret,
    },
    { plugins: [redirectTo(x)], httpAgent: new Agent({ ca: x.ca }) },
  );
}

function appClient(x: XEmulator): TwitterApi {
  return new TwitterApi(x.credentials.bearerToken, { plugins: [redirectTo(x)], httpAgent: new Agent({ ca: x.ca }) });
}

async function apiError(promise: Promise<unknown>): Promise<ApiResponseError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApiResponseError) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

const streamPath =
  '/2/tweets/search/stream?tweet.fields=author_id,created_at,entities,note_tweet,edit_history_tweet_ids&expansions=author_id&user.fields=username';

interface RawStream {
  readonly status: number;
  /** Body of a refused connection. */
  readonly body: string;
  readonly chunks: Buffer[];
  readonly messages: string[];
  keepAlives: number;
  ended: boolean;
  destroy(): void;
}

/** Reads the stream at the socket level with a StringDecoder, the way a correct NDJSON reader must. */
function openStream(x: XEmulator, path = streamPath): Promise<RawStream> {
  const url = new URL(x.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        path,
        headers: { authorization: `Bearer ${x.credentials.bearerToken}` },
        agent: new Agent({ ca: x.ca }),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const decoder = new StringDecoder('utf8');
        let pending = '';
        let body = '';
        const stream: RawStream = {
          status,
          get body() {
            return body;
          },
          chunks: [],
          messages: [],
          keepAlives: 0,
          ended: false,
          destroy: () => req.destroy(),
        };
        res.on('data', (chunk: Buffer) => {
          stream.chunks.push(chunk);
          pending += decoder.write(chunk);
          let index = pending.indexOf('\r\n');
          while (index >= 0) {
            const line = pending.slice(0, index);
            pending = pending.slice(index + 2);
            if (line === '') stream.keepAlives += 1;
            else stream.messages.push(line);
            index = pending.indexOf('\r\n');
          }
          if (status !== 200) body += chunk.toString('utf8');
        });
        const end = () => {
          stream.ended = true;
        };
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
        if (status !== 200) res.on('end', () => { resolve(stream); });
        else resolve(stream);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const parse = (line: string): unknown => JSON.parse(line);

/** Waits for an assertion to hold; generous because parallel test files share the CPU. */
const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 10_000, interval: 20 });

// ---- posting ---------------------------------------------------------------------------------------

describe('x-emulator: posting and lookup', () => {
  it('creates a post and returns it on lookup with only the fields asked for', async () => {
    const x = await emulator();
    const posted = await userClient(x).v2.tweet('#orders {"id":"1","status":"OPEN"}');
    expect(posted.data.id).toMatch(/^\d+$/);
    expect(posted.data).toEqual({ id: posted.data.id, text: '#orders {"id":"1","status":"OPEN"}', edit_history_tweet_ids: [posted.data.id] });

    const bare = await appClient(x).v2.singleTweet(posted.data.id);
    expect(Object.keys(bare.data).sort()).toEqual(['edit_history_tweet_ids', 'id', 'text']);

    const full = await appClient(x).v2.singleTweet(posted.data.id, {
      'tweet.fields': ['author_id', 'created_at', 'entities'],
      expansions: ['author_id'],
      'user.fields': ['username'],
    });
    expect(full.data.author_id).toBe(x.credentials.userId);
    expect(Date.parse(full.data.created_at ?? '')).not.toBeNaN();
    expect(full.data.entities?.hashtags).toEqual([{ start: 0, end: 7, tag: 'orders' }]);
    expect(full.includes?.users).toEqual([{ id: x.credentials.userId, name: x.credentials.username, username: x.credentials.username }]);
  });

  it('looks several posts up at once and reports the missing ones as errors', async () => {
    const x = await emulator();
    const a = await x.handPost('alice', 'first post');
    const result = await appClient(x).v2.tweets([a.id, '1234567890123456789']);
    expect(result.data.map((p) => p.id)).toEqual([a.id]);
    expect(result.errors?.[0]).toMatchObject({ title: 'Not Found Error', resource_id: '1234567890123456789' });
  });

  it('returns & < > as entities and wraps URL-like text in t.co links listed in entities.urls', async () => {
    const x = await emulator();
    const text = '#orders {"name":"Smith & Sons <UK>","site":"example.com"}';
    const posted = await userClient(x).v2.tweet(text);
    expect(posted.data.text).toMatch(/^#orders \{"name":"Smith &amp; Sons &lt;UK&gt;","site":"https:\/\/t\.co\/[A-Za-z0-9]{10}"\}$/);

    const found = await appClient(x).v2.singleTweet(posted.data.id, { 'tweet.fields': ['entities'] });
    const url = found.data.entities?.urls[0];
    expect(url).toMatchObject({ expanded_url: 'example.com', display_url: 'example.com' });
    expect(Array.from(found.data.text).slice(url?.start, url?.end).join('')).toBe(url?.url);
  });

  it('refuses text over 280 weighted characters with X\'s "too long" 400', async () => {
    const x = await emulator();
    const err = await apiError(userClient(x).v2.tweet('漢'.repeat(141)));
    expect(err.code).toBe(400);
    expect(String(err.data.detail)).toMatch(/^Your Tweet text is too long\./);
  });

  it('refuses the same text from the same author with the duplicate 403', async () => {
    const x = await emulator();
    const client = userClient(x);
    await client.v2.tweet('#orders {"id":"d"}');
    const err = await apiError(client.v2.tweet('#orders {"id":"d"}'));
    expect(err.code).toBe(403);
    expect(err.data).toEqual({
      detail: 'You are not allowed to create a Tweet with duplicate content.',
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
    });
  });

  it('refuses a post with two cashtags', async () => {
    const x = await emulator();
    const err = await apiError(userClient(x).v2.tweet('$ABC and $DEF'));
    expect(err.code).toBe(403);
  });

  it('hands out increasing snowflake ids', async () => {
    const x = await emulator();
    const ids: bigint[] = [];
    for (let i = 0; i < 20; i += 1) ids.push(BigInt((await x.handPost('alice', `post ${i}`)).id));
    for (let i = 1; i < ids.length; i += 1) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('deletes the user\'s own post, after which lookup no longer finds it', async () => {
    const x = await emulator();
    const client = userClient(x);
    const posted = await client.v2.tweet('to be deleted');
    expect((await client.v2.deleteTweet(posted.data.id)).data.deleted).toBe(true);
    const after = await appClient(x).v2.singleTweet(posted.data.id);
    expect(after.errors?.[0]).toMatchObject({ title: 'Not Found Error' });
  });

  it('answers users/me for the access token\'s user', async () => {
    const x = await emulator();
    const me = await userClient(x).v2.me();
    expect(me.data).toEqual({ id: x.credentials.userId, name: x.credentials.username, username: x.credentials.username });
  });
});

// ---- auth and limits --------------------------------------------------------------------------------

describe('x-emulator: authentication and rate limits', () => {
  it('refuses a bad OAuth 1.0a signature with X\'s 401', async () => {
    const x = await emulator();
    const err = await apiError(userClient(x, { appSecret: 'wrong-secret' }).v2.tweet('hello'));
    expect(err.code).toBe(401);
    expect(err.data).toEqual({ title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
  });

  it('refuses an unknown access token with 401', async () => {
    const x = await emulator();
    const err = await apiError(userClient(x, { accessToken: '1-unknown' }).v2.tweet('hello'));
    expect(err.code).toBe(401);
  });

  it('refuses app-only auth on a user-context endpoint with 403 Unsupported Authentication', async () => {
    const x = await emulator();
    const err = await apiError(appClient(x).v2.tweet('hello'));
    expect(err.code).toBe(403);
    expect(err.data).toMatchObject({ title: 'Unsupported Authentication', type: 'https://api.twitter.com/2/problems/unsupported-authentication' });
  });

  it('sends rate-limit headers, the 24-hour ones on posting, and a 429 with code 88 after the limit', async () => {
    const x = await emulator({
      rateLimits: {
        createTweet: [
          { scope: 'user', limit: 2, windowMs: 15 * 60_000, header: 'x-rate-limit' },
          { scope: 'user', limit: 50, windowMs: 86_400_000, header: 'x-user-limit-24hour' },
          { scope: 'app', limit: 500, windowMs: 86_400_000, header: 'x-app-limit-24hour' },
        ],
      },
    });
    const client = userClient(x);
    const first = await client.v2.post('tweets', { text: 'one' }, { fullResponse: true });
    expect(first.rateLimit).toMatchObject({ limit: 2, remaining: 1, userDay: { limit: 50, remaining: 49 }, day: { limit: 500, remaining: 499 } });
    expect(first.rateLimit?.reset).toBeGreaterThan(Date.now() / 1000);
    await client.v2.tweet('two');

    const err = await apiError(client.v2.tweet('three'));
    expect(err.code).toBe(429);
    expect(err.data).toEqual({ errors: [{ code: 88, message: 'Rate limit exceeded' }] });
    expect(err.rateLimit).toMatchObject({ limit: 2, remaining: 0 });
    expect(err.rateLimit?.reset).toBeGreaterThan(Date.now() / 1000);
  });

  it('opens a new window once the old one has passed on its clock', async () => {
    let ms = Date.now();
    const x = await emulator({
      now: () => new Date(ms),
      rateLimits: { search: [{ scope: 'appOnly', limit: 1, windowMs: 60_000, header: 'x-rate-limit' }] },
    });
    await appClient(x).v2.get('tweets/search/recent', { query: '#orders' });
    expect((await apiError(appClient(x).v2.get('tweets/search/recent', { query: '#orders' }))).code).toBe(429);
    ms += 60_001;
    await expect(appClient(x).v2.get('tweets/search/recent', { query: '#orders' })).resolves.toBeDefined();
  });
});

// ---- rules ------------------------------------------------------------------------------------------

describe('x-emulator: stream rules', () => {
  it('adds, lists, dry-runs and deletes rules with X\'s response shapes', async () => {
    const x = await emulator();
    const client = appClient(x).v2;
    expect((await client.streamRules()).data).toBeUndefined();

    const added = await client.updateStreamRules({ add: [{ value: '#orders', tag: 'orders' }, { value: 'from:alice' }] });
    expect(added.meta.summary).toEqual({ created: 2, not_created: 0, valid: 2, invalid: 0 });
    expect(added.data.map((r) => r.value)).toEqual(['#orders', 'from:alice']);

    const dry = await client.updateStreamRules({ add: [{ value: '#customers' }] }, { dry_run: true });
    expect(dry.meta.summary).toMatchObject({ created: 1 });
    const listed = await client.streamRules();
    expect(listed.data.map((r) => r.value)).toEqual(['#orders', 'from:alice']);
    expect(listed.meta.result_count).toBe(2);

    const duplicate = await client.updateStreamRules({ add: [{ value: '#orders' }] });
    expect(duplicate.errors?.[0]).toMatchObject({ title: 'DuplicateRule', id: added.data[0]?.id });

    const deleted = await client.updateStreamRules({ delete: { ids: [added.data[0]?.id ?? ''] } });
    expect(deleted.meta.summary).toEqual({ deleted: 1, not_deleted: 0 });
    expect((await client.streamRules()).data.map((r) => r.value)).toEqual(['from:alice']);
  });

  it('refuses an invalid rule with an Invalid Rule error and creates nothing', async () => {
    const x = await emulator();
    const err = await apiError(appClient(x).v2.updateStreamRules({ add: [{ value: '#ok' }, { value: '#orders or #customers' }] }));
    expect(err.code).toBe(400);
    expect(err.data.errors).toEqual([
      {
        value: '#orders or #customers',
        details: ['Ambiguous use of or as a keyword. Use a capitalized OR instead.'],
        title: 'Invalid Rule',
        type: 'https://api.twitter.com/2/problems/invalid-rules',
      },
    ]);
    expect((await appClient(x).v2.streamRules()).data).toBeUndefined();
  });

  it('refuses user-context auth on the rules endpoint with 403', async () => {
    const x = await emulator();
    expect((await apiError(userClient(x).v2.streamRules())).code).toBe(403);
  });
});

// ---- the filtered stream ----------------------------------------------------------------------------

describe('x-emulator: filtered stream', () => {
  it('answers 409 while there are no rules', async () => {
    const x = await emulator();
    const stream = await openStream(x);
    expect(stream.status).toBe(409);
  });

  it('sends a keep-alive at once and then one every keepAliveMs', async () => {
    const x = await emulator({ keepAliveMs: 50 });
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders' }] });
    const stream = await openStream(x);
    expect(stream.status).toBe(200);
    await eventually(() => { expect(stream.keepAlives).toBeGreaterThanOrEqual(3); });
    expect(stream.chunks[0]?.toString()).toBe('\r\n');
    stream.destroy();
  });

  it('delivers a matching post once, listing every rule it matched, and skips others', async () => {
    const x = await emulator();
    const rules = await appClient(x).v2.updateStreamRules({
      add: [{ value: '#orders', tag: 'orders' }, { value: 'shipped -is:retweet', tag: 'shipped' }, { value: '#customers' }],
    });
    const stream = await openStream(x);
    await x.handPost('alice', 'not for us');
    const posted = await x.handPost('alice', '#orders {"id":"1","status":"SHIPPED"}');
    await eventually(() => { expect(stream.messages).toHaveLength(1); });
    const message = parse(stream.messages[0]!);
    const alice = await appClient(x).v2.singleTweet(posted.id, { 'tweet.fields': ['author_id', 'created_at'] });
    expect(message).toEqual({
      data: {
        id: posted.id,
        text: posted.text,
        author_id: alice.data.author_id,
        created_at: alice.data.created_at,
        edit_history_tweet_ids: [posted.id],
        entities: { hashtags: [{ start: 0, end: 7, tag: 'orders' }] },
      },
      includes: { users: [{ id: alice.data.author_id, name: 'alice', username: 'alice' }] },
      matching_rules: [
        { id: rules.data[0]?.id, tag: 'orders' },
        { id: rules.data[1]?.id, tag: 'shipped' },
      ],
    });
    stream.destroy();
  });

  it('delivers by from: rules only the named author\'s posts', async () => {
    const x = await emulator();
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders from:alice' }] });
    const stream = await openStream(x);
    await x.handPost('bob', '#orders {"id":"b"}');
    const mine = await x.handPost('alice', '#orders {"id":"a"}');
    await eventually(() => { expect(stream.messages).toHaveLength(1); });
    expect(parse(stream.messages[0]!)).toMatchObject({ data: { id: mine.id } });
    stream.destroy();
  });

  it('does not replay posts made while no stream was connected', async () => {
    const x = await emulator();
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders' }] });
    await x.handPost('alice', '#orders {"id":"early"}');
    const stream = await openStream(x);
    const late = await x.handPost('alice', '#orders {"id":"late"}');
    await eventually(() => { expect(stream.messages).toHaveLength(1); });
    expect(parse(stream.messages[0]!)).toMatchObject({ data: { id: late.id } });
    stream.destroy();
  });

  it('refuses a second connection with 429 TooManyConnections until connections/all clears the first', async () => {
    const x = await emulator();
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders' }] });
    const first = await openStream(x);
    const second = await openStream(x);
    expect(second.status).toBe(429);
    expect(parse(second.body)).toEqual({
      title: 'ConnectionException',
      detail: 'This stream is currently at the maximum allowed connection limit.',
      connection_issue: 'TooManyConnections',
      type: 'https://api.twitter.com/2/problems/streaming-connection',
    });

    const killed: unknown = await appClient(x).v2.delete('connections/all');
    expect(killed).toEqual({ data: { successful_kills: 1, failed_kills: 0 } });
    await eventually(() => { expect(first.ended).toBe(true); });
    const third = await openStream(x);
    expect(third.status).toBe(200);
    third.destroy();
  });

  it('splits chunks inside multi-byte characters on request, and a StringDecoder reader still reads the text', async () => {
    const x = await emulator();
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders' }] });
    x.faults.splitChunks(true);
    const stream = await openStream(x);
    const text = '#orders {"id":"u","name":"東京 Zürich 😀"}';
    await x.handPost('alice', text);
    await eventually(() => { expect(stream.messages).toHaveLength(1); });

    const splitInside = stream.chunks.slice(0, -1).some((chunk) => {
      // A chunk ends inside a sequence when its last lead byte announces more bytes than follow it.
      for (let back = 1; back <= Math.min(4, chunk.length); back += 1) {
        const byte = chunk[chunk.length - back]!;
        if (byte >= 0xc0) return back < (byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2);
        if (byte < 0x80) return false;
      }
      return false;
    });
    expect(splitInside).toBe(true);
    expect(parse(stream.messages[0]!)).toMatchObject({ data: { text } });
    stream.destroy();
  });

  it('streams to twitter-api-v2\'s own searchStream client', async () => {
    const x = await emulator();
    const client = appClient(x).v2;
    await client.updateStreamRules({ add: [{ value: '#orders', tag: 'orders' }] });
    const stream = await client.searchStream({ 'tweet.fields': ['author_id'], expansions: ['author_id'], 'user.fields': ['username'] });
    const received: TweetV2SingleStreamResult[] = [];
    stream.on(ETwitterStreamEvent.Data, (message: TweetV2SingleStreamResult) => received.push(message));
    const posted = await x.handPost('alice', '#orders {"id":"lib"}');
    await eventually(() => { expect(received).toHaveLength(1); });
    expect(received[0]).toMatchObject({ data: { id: posted.id }, includes: { users: [{ username: 'alice' }] }, matching_rules: [{ tag: 'orders' }] });
    stream.close();
  });

  it('reproduces the library bug: with split chunks, twitter-api-v2\'s parser yields U+FFFD', async () => {
    const x = await emulator();
    const client = appClient(x).v2;
    await client.updateStreamRules({ add: [{ value: '#orders' }] });
    x.faults.splitChunks(true);
    const stream = await client.searchStream();
    const received: TweetV2SingleStreamResult[] = [];
    stream.on(ETwitterStreamEvent.Data, (message: TweetV2SingleStreamResult) => received.push(message));
    await x.handPost('alice', '#orders {"name":"東京東京東京東京東京"}');
    await eventually(() => { expect(received).toHaveLength(1); });
    expect(received[0]?.data.text).toContain('\uFFFD');
    stream.close();
  });

  it('sends the operational-disconnect message and then closes the stream', async () => {
    const x = await emulator();
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders' }] });
    const stream = await openStream(x);
    x.faults.operationalDisconnect();
    await eventually(() => { expect(stream.ended).toBe(true); });
    expect(parse(stream.messages[0]!)).toEqual({
      errors: [
        {
          title: 'operational-disconnect',
          disconnect_type: 'OperationalDisconnect',
          detail: 'This stream has been disconnected for operational reasons.',
          type: 'https://api.twitter.com/2/problems/operational-disconnect',
        },
      ],
    });
  });

  it('drops stream sockets abruptly and frees the connection slot', async () => {
    const x = await emulator();
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders' }] });
    const stream = await openStream(x);
    x.faults.dropStreams();
    await eventually(() => { expect(stream.ended).toBe(true); });
    const again = await openStream(x);
    expect(again.status).toBe(200);
    again.destroy();
  });

  it('holds stream messages during a stall and delivers them after it', async () => {
    const x = await emulator();
    await appClient(x).v2.updateStreamRules({ add: [{ value: '#orders' }] });
    const stream = await openStream(x);
    x.faults.stallStreams(100);
    const posted = await x.handPost('alice', '#orders {"id":"s"}');
    await eventually(() => { expect(stream.messages).toHaveLength(1); });
    expect(parse(stream.messages[0]!)).toMatchObject({ data: { id: posted.id } });
    stream.destroy();
  });
});

// ---- recent search ----------------------------------------------------------------------------------

describe('x-emulator: recent search', () => {
  it('pages newest first with next_token, honours since_id, and fills meta', async () => {
    const x = await emulator();
    const ids: string[] = [];
    for (let i = 0; i < 25; i += 1) ids.push((await x.handPost('alice', `#orders {"id":"${i}"}`)).id);
    await x.handPost('alice', '#customers {"id":"c"}');

    const client = appClient(x).v2;
    const page1 = await client.get<Tweetv2SearchResult>('tweets/search/recent', { query: '#orders', max_results: 10 });
    expect(page1.meta).toMatchObject({ newest_id: ids[24], oldest_id: ids[15], result_count: 10 });
    expect(page1.meta.next_token).toMatch(/^\S+$/);

    const all = await client.search('#orders', { max_results: 10 });
    await all.fetchLast(100);
    expect(all.tweets.map((t) => t.id)).toEqual([...ids].reverse());

    const since = await client.get<Tweetv2SearchResult>('tweets/search/recent', { query: '#orders', since_id: ids[21], max_results: 10 });
    expect(since.data.map((t) => t.id)).toEqual([ids[24], ids[23], ids[22]]);
    expect(since.meta).toEqual({ newest_id: ids[24], oldest_id: ids[22], result_count: 3 });

    const none = await client.get<Tweetv2SearchResult>('tweets/search/recent', { query: '#orders', since_id: ids[24] });
    expect(none).toEqual({ meta: { result_count: 0 } });
  });

  it('refuses max_results below 10 with X\'s 400', async () => {
    const x = await emulator();
    const err = await apiError(appClient(x).v2.get('tweets/search/recent', { query: '#orders', max_results: 5 }));
    expect(err.code).toBe(400);
    expect(err.data).toMatchObject({
      title: 'Invalid Request',
      errors: [{ message: 'The `max_results` query parameter value [5] is not between 10 and 100' }],
    });
  });
});

// ---- faults and lifecycle ---------------------------------------------------------------------------

describe('x-emulator: faults and lifecycle', () => {
  it('injects faults over HTTP for the next request only', async () => {
    const x = await emulator();
    const res = await fetchJson(x, '/_emulator/faults', { endpoint: 'createTweet', kind: 'serverError', times: 1 });
    expect(res.status).toBe(200);
    expect((await apiError(userClient(x).v2.tweet('one'))).code).toBe(503);
    await expect(userClient(x).v2.tweet('one')).resolves.toBeDefined();
  });

  it('gives an injected 429 a reset time in the near future', async () => {
    const x = await emulator({ faultRateLimitResetMs: 2000 });
    x.faults.fail('createTweet', 'rateLimit');
    const err = await apiError(userClient(x).v2.tweet('one'));
    expect(err.code).toBe(429);
    expect(err.rateLimit?.remaining).toBe(0);
    expect(err.rateLimit?.reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('never answers a timed-out request, and close() still ends it', async () => {
    const x = await emulator();
    x.faults.fail('createTweet', 'timeout');
    const pending = userClient(x).v2.tweet('lost');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await x.close();
    await expect(pending).rejects.toBeDefined();
    await x.close();
  });

  it('carries out a request whose answer is lost, then drops the connection: the retry is a duplicate', async () => {
    const x = await emulator();
    x.faults.fail('createTweet', 'lostResponse');
    await expect(userClient(x).v2.tweet('made, answer lost')).rejects.toBeDefined();
    expect(x.recentPosts(10).map((p) => p.text)).toEqual(['made, answer lost']);
    const err = await apiError(userClient(x).v2.tweet('made, answer lost'));
    expect(err.code).toBe(403);
    expect(JSON.stringify(err.data)).toMatch(/duplicate content/);
  });

  it('writes only the public certificate to certDir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'x-emulator-'));
    try {
      const x = await emulator({ certDir: dir });
      expect(await readdir(dir)).toEqual(['cert.pem']);
      const pem = await readFile(join(dir, 'cert.pem'), 'utf8');
      expect(pem).toBe(x.ca);
      expect(pem).not.toMatch(/PRIVATE KEY/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves the page with hostile posts escaped', async () => {
    const x = await emulator();
    await x.handPost('mallory', '<script>alert(1)</script> #orders');
    const res = await fetchText(x, '/');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<script>alert');
    expect(res.text).toContain('&amp;lt;script&amp;gt;alert(1)');
    expect(res.text).toContain('#orders {&quot;id&quot;:&quot;h1&quot;,&quot;status&quot;:&quot;OPEN&quot;}');
  });

  it('hand-posts through POST /_emulator/posts and lists the post', async () => {
    const x = await emulator();
    const res = await fetchJson(x, '/_emulator/posts', { username: 'speaker', text: '#orders {"id":"h1","status":"OPEN"}' });
    expect(res.status).toBe(201);
    const list = await fetchText(x, '/_emulator/posts');
    expect(JSON.parse(list.text)).toMatchObject({ data: [{ username: 'speaker', text: '#orders {"id":"h1","status":"OPEN"}' }] });
  });
});

function fetchText(x: XEmulator, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const url = new URL(path, x.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        agent: new Agent({ ca: x.ca }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, text }); });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function fetchJson(x: XEmulator, path: string, body: unknown) {
  return fetchText(x, path, body);
}
