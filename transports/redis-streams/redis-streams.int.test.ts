import { randomUUID } from 'node:crypto';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { waitUntil } from '../../common/wait.fixture.js';
import { createJsonDecoder, encodeEventJson } from '../../events/json-codec.js';
import { anEvent, describeTransportContract } from '../transport.contract.js';
import type { BatchResult, EventPublisher, InboundMessage } from '../transport.js';
import { createRedisStreamsPublisher } from './redis-streams-publisher.js';
import { createRedisStreamsSource, type RedisStreamsSource, type RedisStreamsSourceOptions } from './redis-streams-source.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ level: 'silent' });
const decoder = createJsonDecoder({ collections: ['orders', 'customers'] });
const fastSource = { claimIdleMs: 300, handlerBackoff: () => 20, reconnectBackoff: () => 50, blockMs: 200, logger } as const;

function uniqueStream(): string {
  return `tweetbus:test:${process.pid}:${randomUUID()}`;
}

function fieldsOf(fields: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
}

let admin: Redis;

beforeAll(async () => {
  admin = new Redis(redisUrl, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
  let connectionError: unknown;
  admin.on('error', (err: unknown) => {
    connectionError = err;
  });
  try {
    await admin.ping();
  } catch (err) {
    admin.disconnect();
    const reason = String(connectionError ?? err);
    throw new Error(`Redis is not reachable at ${redisUrl} (set REDIS_URL); these tests need a running Redis 7 (${reason})`, { cause: err });
  }
});

afterAll(() => {
  admin.disconnect();
});

describeTransportContract('Redis Streams (real Redis at 127.0.0.1:6379)', () => {
  const stream = uniqueStream();
  const deadLetterStream = `${stream}:dead`;
  const publisher = createRedisStreamsPublisher({ url: redisUrl }, { stream, logger });
  return Promise.resolve({
    publisher,
    source: ({ checkpointName }) =>
      createRedisStreamsSource({ url: redisUrl }, { ...fastSource, stream, group: checkpointName }),
    decoder,
    collections: ['orders', 'customers'],
    sendPoison: async () => {
      await admin.xadd(stream, '*', 'event', '#orders {"id": not json', 'key', 'orders/poison');
    },
    mayRepeatAfterRestart: false,
    deadLetters: async () =>
      (await admin.xrange(deadLetterStream, '-', '+')).map(([, fields]) => {
        const letter = fieldsOf(fields);
        return { messageId: letter.entryId ?? '', reason: letter.reason ?? '', text: letter.text ?? '' };
      }),
    groupsShareWork: true,
    cleanup: async () => {
      await publisher.close();
      await admin.del(stream, deadLetterStream);
    },
  });
});

describe('Redis Streams adapter', () => {
  let stream: string;
  const closers: (() => Promise<unknown>)[] = [];

  const publisherFor = (options: { maxLen?: number; url?: string } = {}): EventPublisher & { check(): Promise<void> } => {
    const publisher = createRedisStreamsPublisher({ url: redisUrl }, { stream, logger, ...options });
    closers.push(() => publisher.close());
    return publisher;
  };

  const sourceFor = (options: Partial<RedisStreamsSourceOptions> = {}): RedisStreamsSource => {
    const source = createRedisStreamsSource({ url: redisUrl }, { ...fastSource, stream, group: 'g', ...options });
    closers.push(() => source.close());
    return source;
  };

  /** Records every batch and answers like a consumer: decodable messages are applied, the rest rejected. */
  const recorder = (): { messages: InboundMessage[]; handle: (batch: readonly InboundMessage[]) => Promise<BatchResult> } => {
    const messages: InboundMessage[] = [];
    return {
      messages,
      handle: (batch) => {
        messages.push(...batch);
        const rejected = batch.flatMap((message) => {
          const decoded = decoder(message);
          return decoded.ok ? [] : [{ message, reason: decoded.reason }];
        });
        return Promise.resolve({ rejected });
      },
    };
  };

  const pendingCount = async (group = 'g'): Promise<number> => {
    const summary = await admin.call('XPENDING', [stream, group]);
    if (!Array.isArray(summary) || typeof summary[0] !== 'number') throw new Error(`unexpected XPENDING reply ${JSON.stringify(summary)}`);
    return summary[0];
  };

  const textOf = (id: string) => (m: InboundMessage) => m.text.includes(id);

  beforeAll(() => {
    stream = uniqueStream();
  });

  afterEach(async () => {
    await Promise.allSettled(closers.splice(0).map((close) => close()));
    await admin.del(stream, `${stream}:dead`);
    stream = uniqueStream();
  });

  it('a member that read entries and died without close() leaves them pending, and another member claims them after claimIdleMs', async () => {
    const publisher = publisherFor();
    await admin.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    const taken = anEvent('orders', 'k1', 1n);
    await publisher.publish([taken]);
    // A member that took the entry and was killed: it never acknowledges and never closes.
    await admin.call('XREADGROUP', ['GROUP', 'g', 'killed-member', 'COUNT', 10, 'STREAMS', stream, '>']);
    expect(await pendingCount()).toBe(1);

    const survivor = recorder();
    const source = sourceFor();
    await source.start(survivor.handle);
    const later = anEvent('orders', 'k2', 1n);
    await publisher.publish([later]);

    await waitUntil('the survivor to claim and handle the dead member\'s entry', () =>
      survivor.messages.some(textOf(taken.id)) && survivor.messages.some(textOf(later.id)));
    await waitUntil('nothing pending', async () => (await pendingCount()) === 0);
    expect(survivor.messages.filter(textOf(taken.id))).toHaveLength(1);
  });

  it.each([
    ['restarted under its own name (its own pending entries)', 'm1'],
    ['of another name (claimed from the dead member)', 'm2'],
  ])('an entry trimmed away while pending does not block the loop: a member %s acknowledges it and goes on', async (_, consumer) => {
    const publisher = publisherFor();
    await admin.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    const trimmed = anEvent('orders', 't1', 1n);
    await publisher.publish([trimmed]);
    await admin.call('XREADGROUP', ['GROUP', 'g', 'm1', 'COUNT', 10, 'STREAMS', stream, '>']);
    await admin.xtrim(stream, 'MAXLEN', 0);
    expect(await admin.xlen(stream)).toBe(0);
    expect(await pendingCount()).toBe(1);

    const after = anEvent('orders', 't2', 1n);
    await publisher.publish([after]);
    const seen = recorder();
    await sourceFor({ consumer }).start(seen.handle);

    await waitUntil('the entry after the trimmed one', () => seen.messages.some(textOf(after.id)));
    await waitUntil('the trimmed entry to leave the pending list', async () => (await pendingCount()) === 0);
    expect(seen.messages.map((m) => m.text).filter((text) => text.includes(trimmed.id))).toEqual([]);
  });

  it('drains a backlog in growing batches, up to maxBatchSize, each one delivered after the one before was acknowledged, and goes back to batchSize once caught up', async () => {
    const publisher = publisherFor();
    await admin.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await publisher.publish(Array.from({ length: 300 }, (_, i) => anEvent('orders', `b${String(i)}`, 1n)));
    const sizes: number[] = [];
    const pendingAtDelivery: number[] = [];
    const seen = recorder();
    const source = sourceFor({ batchSize: 10, maxBatchSize: 80 });
    await source.start(async (batch) => {
      sizes.push(batch.length);
      // The batch before this one was acknowledged; this one, and at most the next one read ahead, are pending.
      pendingAtDelivery.push(await pendingCount());
      return seen.handle(batch);
    });
    await waitUntil('the backlog to be handled', () => seen.messages.length === 300);
    await publisher.publish([anEvent('orders', 'after', 1n)]);
    await waitUntil('the event after the backlog', () => seen.messages.length === 301);

    expect(sizes.slice(0, 5)).toEqual([10, 20, 40, 80, 80]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(301);
    expect(sizes.at(-1)).toBe(1);
    pendingAtDelivery.forEach((pending, i) => {
      expect(pending).toBeGreaterThanOrEqual(sizes[i] ?? 0);
      expect(pending).toBeLessThanOrEqual((sizes[i] ?? 0) + 80);
    });
    expect(new Set(seen.messages.map((m) => m.id)).size).toBe(301);
    await waitUntil('nothing pending', async () => (await pendingCount()) === 0);
  });

  it('refuses a maxBatchSize below batchSize, or not a positive whole number', () => {
    const build = (batchSize: number, maxBatchSize: number) => () => createRedisStreamsSource({ url: redisUrl }, { ...fastSource, stream, group: 'g', batchSize, maxBatchSize });
    expect(build(100, 50)).toThrow(/maxBatchSize \(50\) must be at least batchSize \(100\)/);
    expect(build(10, 0)).toThrow(/maxBatchSize must be a positive integer, got 0/);
  });

  it('MAXLEN trimming keeps the stream near maxLen', async () => {
    const maxLen = 50;
    const publisher = publisherFor({ maxLen });
    for (let batch = 0; batch < 10; batch += 1) {
      await publisher.publish(Array.from({ length: 50 }, (_, i) => anEvent('orders', `m${batch}-${i}`, 1n)));
    }
    // `~` trims whole nodes only: the stream keeps at least maxLen and less than one node more.
    const config = await admin.call('CONFIG', ['GET', 'stream-node-max-entries']);
    const nodeSize = Array.isArray(config) ? Number(config[1]) : Number.NaN;
    expect(nodeSize).toBeGreaterThan(0);
    const length = await admin.xlen(stream);
    expect(length).toBeGreaterThanOrEqual(maxLen);
    expect(length).toBeLessThanOrEqual(maxLen + nodeSize);
    expect(length).toBeLessThan(500);
  });

  it('each event is one entry: the envelope, and its collection/key for an operator', async () => {
    const event = anEvent('customers', 'c7', 12345678901234567890n);
    await publisherFor().publish([event]);
    const entries = await admin.xrange(stream, '-', '+');
    expect(entries.map(([, fields]) => fieldsOf(fields))).toEqual([
      { event: encodeEventJson(event), key: 'customers/c7' },
    ]);
  });

  it('the publisher maps a refused connection to a retryable TransportError, and check() names the host without the password', async () => {
    const publisher = publisherFor({ url: 'redis://reader:s3cret@127.0.0.1:1' });
    const err: unknown = await publisher.publish([anEvent('orders', 'x', 1n)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    const transportError = err as TransportError;
    expect(transportError.kind).toBe('retryable');
    expect(transportError.published).toBe(0);
    expect(transportError.message).toMatch(/not reachable at redis:\/\/reader:\*\*\*@127\.0\.0\.1:1.*ECONNREFUSED/);
    await expect(publisher.check()).rejects.toThrow(/not reachable at redis:\/\/reader:\*\*\*@127\.0\.0\.1:1/);
    await expect(publisher.check()).rejects.not.toThrow(/s3cret/);
  });

  it('the publisher maps a key of the wrong type to an invalid TransportError, and wrong credentials to auth', async () => {
    await admin.set(stream, 'not a stream');
    const wrongType: unknown = await publisherFor().publish([anEvent('orders', 'x', 1n)]).catch((e: unknown) => e);
    expect(wrongType).toBeInstanceOf(TransportError);
    expect((wrongType as TransportError).kind).toBe('invalid');

    const url = new URL(redisUrl);
    url.username = 'nobody';
    url.password = 'wrong';
    const wrongPassword: unknown = await publisherFor({ url: url.toString() }).publish([anEvent('orders', 'x', 1n)]).catch((e: unknown) => e);
    expect(wrongPassword).toBeInstanceOf(TransportError);
    expect((wrongPassword as TransportError).kind).toBe('auth');
  });

  it('a source that cannot reach Redis at start rejects, naming the URL without its password', async () => {
    const source = sourceFor({ url: 'redis://reader:s3cret@127.0.0.1:1' });
    const err: unknown = await source.start(() => Promise.resolve()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe('retryable');
    expect((err as TransportError).message).toMatch(/^Redis is not reachable at redis:\/\/reader:\*\*\*@127\.0\.0\.1:1/);
    expect((err as TransportError).message).not.toContain('s3cret');
  });

  it('a dead letter carries the reason, the text, and the stream, group, entry id and consumer it came from', async () => {
    const seen = recorder();
    const source = sourceFor({ group: 'dlq-group', consumer: 'dlq-member' });
    await source.start(seen.handle);
    const poisonId = await admin.xadd(stream, '*', 'event', 'not json at all');
    const foreignId = await admin.xadd(stream, '*', 'something', 'else');

    const letters = await waitUntil('two dead letters', async () => {
      const entries = (await admin.xrange(`${stream}:dead`, '-', '+')).map(([, fields]) => fieldsOf(fields));
      return entries.length >= 2 ? entries : undefined;
    });
    expect(letters).toEqual([
      expect.objectContaining({ text: 'not json at all', stream, group: 'dlq-group', entryId: poisonId, consumer: 'dlq-member' }),
      // An entry without an `event` field is delivered with its raw fields, never dropped.
      expect.objectContaining({ text: '["something","else"]', stream, group: 'dlq-group', entryId: foreignId, consumer: 'dlq-member' }),
    ]);
    for (const letter of letters) {
      expect(letter.reason).toMatch(/JSON|invalid|expected/i);
      expect(new Date(letter.at ?? '').toISOString()).toBe(letter.at);
    }
    expect(await pendingCount('dlq-group')).toBe(0);
    expect(source.status().deadLettered).toBe(2);
  });

  it('close waits for the handler in flight and acknowledges its batch', async () => {
    let release: () => void = () => undefined;
    let entered = false;
    let finished = false;
    const source = sourceFor({ consumer: 'closing-member' });
    await source.start(async () => {
      entered = true;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      finished = true;
    });
    await publisherFor().publish([anEvent('orders', 'slow', 1n)]);
    await waitUntil('the handler to start', () => entered);
    const closing = source.close();
    // Closing has begun (the blocking read's connection is gone) while the handler is still running.
    await waitUntil('the blocking read to be cut', async () => !String(await admin.call('CLIENT', ['LIST'])).includes('tweetbus-source-read:closing-member'));
    expect(finished).toBe(false);
    release();
    await closing;
    expect(finished).toBe(true);
    expect(await pendingCount()).toBe(0);
    expect(source.status().acknowledged).toBe(1);
  });

  it('while Redis is unreachable the source says so and keeps trying; it resumes when Redis is back', async () => {
    const proxy = await startProxy(new URL(redisUrl));
    closers.push(() => proxy.close());
    const proxied = new URL(redisUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const seen = recorder();
    const source = sourceFor({ url: proxied.toString() });
    await source.start(seen.handle);
    const publisher = publisherFor();
    const before = anEvent('orders', 'u1', 1n);
    await publisher.publish([before]);
    await waitUntil('the first event', () => seen.messages.some(textOf(before.id)));
    await source.check();

    await proxy.cut();
    await waitUntil('the source to notice', () => !source.status().connected);
    expect(source.status().state).toBe('waiting');
    await expect(source.check()).rejects.toThrow(new RegExp(`not reachable at redis://127\\.0\\.0\\.1:${proxy.port}`));
    const during = anEvent('orders', 'u1', 2n);
    await publisher.publish([during]);

    proxy.restore();
    await waitUntil('the event published during the outage', () => seen.messages.some(textOf(during.id)));
    await waitUntil('the source to report it is connected', () => source.status().connected);
    await source.check();
    expect(source.status().failures).toBeGreaterThan(0);
  });
});

/** A TCP proxy to Redis that can be cut (connections dropped, new ones refused) and restored. */
async function startProxy(target: URL): Promise<{ port: number; cut(): Promise<void>; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    port,
    cut: stop,
    restore: () => {
      server.listen(port, '127.0.0.1');
    },
    close: async () => {
      if (server.listening) await stop();
    },
  };
}
