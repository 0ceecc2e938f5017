import { PassThrough } from 'node:stream';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logSink } from '../../common/log-sink.fixture.js';
import { createLogger } from '../../common/logger.js';
import { createHashtagMap } from './post-codec.js';
import { createInMemoryCheckpointStore } from '../in-memory/checkpoint-store.js';
import type { CheckpointStore, InboundMessage, MessageHandler } from '../transport.js';
import { createLineReader } from './stream-reader.js';
import { ensureStreamRule, streamRuleFor } from './stream-rules.js';
import { snowflakeAt, snowflakeTimestampMs } from './snowflake.js';
import { recentSearchWindowMs } from './catch-up.js';
import { createXSource, type XSource } from './x-source.js';
import { waitUntil } from '../../common/wait.fixture.js';

const api = 'https://x.test';
const bearerToken = 'test-bearer-token';
const hashtags = createHashtagMap(['orders', 'customers']);
const rule = streamRuleFor(hashtags.hashtags);
const fast = { network: () => 5, http: () => 5, rateLimit: () => 5 };

let nextId = BigInt(snowflakeAt(Date.now()));
function postId(): string {
  nextId += 1n;
  return nextId.toString();
}

function streamLine(id: string, text: string): string {
  return `${JSON.stringify({
    data: { id, text, author_id: '42', created_at: new Date().toISOString(), edit_history_tweet_ids: [id] },
    includes: { users: [{ id: '42', username: 'alice' }] },
    matching_rules: [{ id: '1', tag: rule.tag }],
  })}\r\n`;
}

function searchPost(id: string, text: string) {
  return { id, text, author_id: '42', created_at: new Date().toISOString(), edit_history_tweet_ids: [id] };
}

function rulesExist(): nock.Scope {
  return nock(api).get('/2/tweets/search/stream/rules').reply(200, { data: [{ id: '1', value: rule.value, tag: rule.tag }], meta: { result_count: 1 } });
}

/** A nock query matcher for recent search that records each search's parameters into `queries`. */
function recordingQueries(queries: Record<string, string>[]): (query: Record<string, unknown>) => boolean {
  return (q) => {
    if ('query' in q) queries.push(Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)])));
    return 'query' in q;
  };
}

function searchFindsNothing(times = 1): nock.Scope {
  return nock(api).get('/2/tweets/search/recent').query(true).times(times).reply(200, { meta: { result_count: 0 } });
}

/** A stream interceptor; the keep-alive written first makes nock send the headers. */
function streamOpens(): PassThrough {
  const body = new PassThrough();
  body.write('\r\n');
  nock(api)
    .get('/2/tweets/search/stream')
    .query(true)
    .matchHeader('authorization', `Bearer ${bearerToken}`)
    .reply(200, () => body, { 'content-type': 'application/json' });
  return body;
}

const waitFor = (what: string, condition: () => boolean): Promise<true> => waitUntil(what, condition, { timeoutMs: 5_000, intervalMs: 5 });

describe('X source (nock)', () => {
  let source: XSource | undefined;
  let sink: ReturnType<typeof logSink>;

  beforeEach(() => {
    nock.disableNetConnect();
    sink = logSink();
  });
  afterEach(async () => {
    await source?.close();
    source = undefined;
    nock.cleanAll();
    nock.enableNetConnect();
  });

  function startSource(
    handler: MessageHandler,
    options: { checkpoints?: CheckpointStore; heartbeatTimeoutMs?: number; firstStartCatchUpMs?: number; now?: () => Date } = {},
  ): Promise<void> {
    source = createXSource(
      { apiUrl: api, bearerToken },
      {
        firstStartCatchUpMs: options.firstStartCatchUpMs,
        now: options.now,
        hashtags,
        checkpoints: options.checkpoints ?? createInMemoryCheckpointStore(),
        checkpointName: 'x',
        logger: sink.logger,
        reconnectBackoff: fast,
        handlerBackoff: () => 5,
        heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 5_000,
      },
    );
    return source.start(handler);
  }

  const collect = (into: InboundMessage[]): MessageHandler => (batch) => {
    into.push(...batch);
    return Promise.resolve();
  };

  it('a post split inside a multi-byte character arrives whole, and keep-alives are ignored', async () => {
    rulesExist();
    searchFindsNothing();
    const stream = streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received));
    const text = '#orders {"id":"1","city":"東京","mood":"😀"}';
    const id = postId();
    const bytes = Buffer.from(streamLine(id, text), 'utf8');
    const emoji = bytes.indexOf(Buffer.from('😀', 'utf8'));
    stream.write(bytes.subarray(0, emoji + 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    stream.write(bytes.subarray(emoji + 2));
    stream.write('\r\n');
    stream.write('\r\n');
    await waitFor('the post', () => received.length === 1);
    expect(received[0]?.text).toBe(text);
    expect(received[0]).toMatchObject({ id, author: { id: '42', username: 'alice' }, editHistoryIds: [id] });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toHaveLength(1);
  });

  it('a long post is delivered with its full note text', async () => {
    rulesExist();
    searchFindsNothing();
    const stream = streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received));
    const id = postId();
    const full = `#orders {"id":"1","notes":"${'x'.repeat(400)}"}`;
    stream.write(`${JSON.stringify({ data: { id, text: full.slice(0, 270), author_id: '42', note_tweet: { text: full } } })}\r\n`);
    await waitFor('the post', () => received.length === 1);
    expect(received[0]?.text).toBe(full);
  });

  it('silence longer than the heartbeat timeout makes the source reconnect and go on receiving', async () => {
    rulesExist();
    searchFindsNothing(2);
    const first = streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received), { heartbeatTimeoutMs: 150 });
    first.write(streamLine(postId(), '#orders {"id":"a"}'));
    await waitFor('the first post', () => received.length === 1);
    const second = streamOpens();
    second.write(streamLine(postId(), '#orders {"id":"b"}'));
    await waitFor('the post after the reconnect', () => received.length === 2);
    expect(source?.status().reconnects).toBeGreaterThanOrEqual(1);
    expect(sink.lines.some((l) => l.level === 40 && /heartbeat/.test(l.msg ?? ''))).toBe(true);
  });

  it('an operational disconnect inside the stream makes the source reconnect', async () => {
    rulesExist();
    searchFindsNothing(2);
    const first = streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received));
    const second = streamOpens();
    first.write(
      `${JSON.stringify({
        errors: [
          {
            title: 'operational-disconnect',
            disconnect_type: 'OperationalDisconnect',
            detail: 'This stream has been disconnected for operational reasons.',
            type: 'https://api.twitter.com/2/problems/operational-disconnect',
          },
        ],
      })}\r\n`,
    );
    second.write(streamLine(postId(), '#orders {"id":"after"}'));
    await waitFor('the post after the reconnect', () => received.length === 1);
    expect(received[0]?.text).toBe('#orders {"id":"after"}');
  });

  it('catches up through recent search from a little before the checkpoint, oldest first, across pages', async () => {
    const checkpointId = postId();
    const checkpoints = createInMemoryCheckpointStore({ x: checkpointId });
    const [p1, p2, p3] = [postId(), postId(), postId()];
    const queries: Record<string, string>[] = [];
    rulesExist();
    nock(api)
      .get('/2/tweets/search/recent')
      .query(recordingQueries(queries))
      .reply(200, {
        data: [searchPost(p3, '#orders {"id":"3"}'), searchPost(p2, '#orders {"id":"2"}')],
        includes: { users: [{ id: '42', username: 'alice' }] },
        meta: { result_count: 2, next_token: 'page2' },
      })
      .get('/2/tweets/search/recent')
      .query(recordingQueries(queries))
      .reply(200, { data: [searchPost(p1, '#orders {"id":"1"}')], meta: { result_count: 1 } });
    streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received), { checkpoints });
    await waitFor('the three posts', () => received.length === 3);
    expect(received.map((m) => m.id)).toEqual([p1, p2, p3]);
    expect(received[2]?.author?.username).toBe('alice');
    expect(queries[0]?.query).toBe(rule.value);
    expect(queries[0]?.since_id).toBe(snowflakeAt(snowflakeTimestampMs(checkpointId) - 60_000));
    expect(queries[1]?.next_token).toBe('page2');
    await waitFor('the checkpoint', () => checkpoints.saves.length > 0);
    expect(await checkpoints.load('x')).toBe(p3);
  });

  it('without a checkpoint, searches back over the first-start window: an hour by default, 0 from now, never past 7 days', async () => {
    const at = new Date('2026-12-06T12:00:00.000Z');
    const cases: { window: number | undefined; expected: string }[] = [
      { window: undefined, expected: snowflakeAt(at.getTime() - 3_600_000) },
      { window: 30 * 60_000, expected: snowflakeAt(at.getTime() - 30 * 60_000) },
      { window: 0, expected: snowflakeAt(at.getTime()) },
      { window: 30 * 86_400_000, expected: snowflakeAt(at.getTime() - recentSearchWindowMs + 120_000) },
    ];
    for (const { window, expected } of cases) {
      const queries: Record<string, string>[] = [];
      rulesExist();
      nock(api)
        .get('/2/tweets/search/recent')
        .query(recordingQueries(queries))
        .reply(200, { meta: { result_count: 0 } });
      streamOpens();
      await startSource(collect([]), { firstStartCatchUpMs: window, now: () => at });
      await waitFor('the catch-up search', () => queries.length > 0);
      expect(queries[0]?.since_id, `window ${String(window)}`).toBe(expected);
      await source?.close();
      source = undefined;
      nock.cleanAll();
    }
  });

  it('moves the checkpoint only after the handler resolved, and redelivers the same batch after a throw', async () => {
    rulesExist();
    searchFindsNothing();
    const stream = streamOpens();
    const checkpoints = createInMemoryCheckpointStore();
    const calls: string[][] = [];
    let savesAtFailure = -1;
    await startSource(
      (batch) => {
        calls.push(batch.map((m) => m.id));
        if (calls.length === 1) {
          savesAtFailure = checkpoints.saves.length;
          return Promise.reject(new Error('store down'));
        }
        return Promise.resolve();
      },
      { checkpoints },
    );
    const id = postId();
    stream.write(streamLine(id, '#orders {"id":"a"}'));
    await waitFor('the redelivery', () => calls.length === 2);
    expect(savesAtFailure).toBe(0);
    expect(calls[1]).toEqual(calls[0]);
    await waitFor('the checkpoint', () => checkpoints.saves.length === 1);
    expect(checkpoints.saves[0]).toEqual({ name: 'x', position: id });
  });

  it('429 TooManyConnections clears the stale connections once and reconnects', async () => {
    rulesExist();
    nock(api)
      .get('/2/tweets/search/stream')
      .query(true)
      .reply(429, {
        title: 'ConnectionException',
        detail: 'This stream is currently at the maximum allowed connection limit.',
        connection_issue: 'TooManyConnections',
        type: 'https://api.twitter.com/2/problems/streaming-connection',
      });
    const cleared = nock(api).delete('/2/connections/all').reply(200, { data: { killed_connections: true } });
    searchFindsNothing();
    const stream = streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received));
    stream.write(streamLine(postId(), '#orders {"id":"a"}'));
    await waitFor('the post', () => received.length === 1);
    expect(cleared.isDone()).toBe(true);
  });

  it('409 (no rules) makes the source ensure its rule again before reconnecting', async () => {
    rulesExist();
    nock(api).get('/2/tweets/search/stream').query(true).reply(409, { title: 'ConnectionException', detail: 'No rules', type: 'about:blank' });
    const again = nock(api).get('/2/tweets/search/stream/rules').reply(200, { meta: { result_count: 0 } });
    const added = nock(api).post('/2/tweets/search/stream/rules', { add: [{ value: rule.value, tag: rule.tag }] }).reply(201, { data: [{ id: '9', value: rule.value, tag: rule.tag }] });
    searchFindsNothing();
    const stream = streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received));
    stream.write(streamLine(postId(), '#orders {"id":"a"}'));
    await waitFor('the post', () => received.length === 1);
    expect(again.isDone()).toBe(true);
    expect(added.isDone()).toBe(true);
  });

  it('401 on the stream is logged as an error naming what to fix, without the token, and retried', async () => {
    rulesExist();
    nock(api).get('/2/tweets/search/stream').query(true).reply(401, { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    searchFindsNothing();
    const stream = streamOpens();
    const received: InboundMessage[] = [];
    await startSource(collect(received));
    stream.write(streamLine(postId(), '#orders {"id":"a"}'));
    await waitFor('the post', () => received.length === 1);
    const error = sink.lines.find((l) => l.level === 50);
    expect(error?.msg).toMatch(/bearer token/);
    expect(sink.raw.join('')).not.toContain(bearerToken);
  });

  it('close waits for the handler in flight, stores the checkpoint, and is harmless twice', async () => {
    rulesExist();
    searchFindsNothing();
    const stream = streamOpens();
    const checkpoints = createInMemoryCheckpointStore();
    let entered = false;
    let finished = false;
    await startSource(
      async () => {
        entered = true;
        await new Promise((resolve) => setTimeout(resolve, 50));
        finished = true;
      },
      { checkpoints },
    );
    const id = postId();
    stream.write(streamLine(id, '#orders {"id":"a"}'));
    await waitFor('the handler', () => entered);
    await source?.close();
    expect(finished).toBe(true);
    expect(await checkpoints.load('x')).toBe(id);
    await source?.close();
    expect(source?.status().state).toBe('closed');
  });
});

describe('stream rules', () => {
  beforeEach(() => {
    nock.disableNetConnect();
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  const logger = createLogger({ level: 'silent' });
  const client = async () => {
    const { createAppClient, createXEndpoint } = await import('./x-client.js');
    return createAppClient(bearerToken, createXEndpoint({ apiUrl: api }));
  };

  it('the rule is built from the sorted hashtags and leaves retweets out', () => {
    expect(streamRuleFor(['orders', 'customers'])).toEqual({ value: '(#customers OR #orders) -is:retweet', tag: 'tweetbus:customers,orders' });
    expect(streamRuleFor(['orders']).value).toBe('#orders -is:retweet');
  });

  it('an existing rule is left as it is: no rule is posted', async () => {
    rulesExist();
    const post = nock(api).post('/2/tweets/search/stream/rules').reply(201, {});
    expect(await ensureStreamRule(await client(), rule, logger)).toBe('present');
    expect(post.isDone()).toBe(false);
  });

  it('a missing rule is added, our outdated rule is deleted, and other rules are left alone', async () => {
    nock(api)
      .get('/2/tweets/search/stream/rules')
      .reply(200, {
        data: [
          { id: '1', value: '#orders -is:retweet', tag: 'tweetbus:orders' },
          { id: '2', value: '#cats', tag: 'someone-else' },
        ],
      });
    const deleted = nock(api).post('/2/tweets/search/stream/rules', { delete: { ids: ['1'] } }).reply(200, { meta: {} });
    const added = nock(api).post('/2/tweets/search/stream/rules', { add: [{ value: rule.value, tag: rule.tag }] }).reply(201, { data: [] });
    expect(await ensureStreamRule(await client(), rule, logger)).toBe('added');
    expect(deleted.isDone()).toBe(true);
    expect(added.isDone()).toBe(true);
  });
});

describe('line reader', () => {
  it('keeps a character split across chunks whole, splits on \\n, drops \\r, reports blank lines as keep-alives', () => {
    const lines: string[] = [];
    let keepAlives = 0;
    const reader = createLineReader(
      (l) => {
        lines.push(l);
      },
      () => {
        keepAlives += 1;
      },
    );
    const bytes = Buffer.from('{"t":"日本"}\r\n\r\n{"t":"é"}\n', 'utf8');
    for (let i = 0; i < bytes.length; i += 1) reader.push(bytes.subarray(i, i + 1));
    reader.end();
    expect(lines).toEqual(['{"t":"日本"}', '{"t":"é"}']);
    expect(keepAlives).toBe(1);
  });
});
