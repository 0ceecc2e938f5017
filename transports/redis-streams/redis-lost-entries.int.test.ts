import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logSink } from '../../common/log-sink.fixture.js';
import { waitUntil } from '../../common/wait.fixture.js';
import { aChangeEvent } from '../../events/change-event.fixture.js';
import { startTestRedisServer, type TestRedisServer } from '../../test/redis-server.fixture.js';
import type { TransportLoss } from '../transport.js';
import { createRedisStreamsPublisher } from './redis-streams-publisher.js';
import { createRedisStreamsSource } from './redis-streams-source.js';

/**
 * Issue 24: a stream trimmed (MAXLEN) past entries a group has not read lost them. The publisher and
 * the source notice it from the stream's counters and say so at error level, the publisher with the
 * time from which its events must be published again. A redis-server of the test's own.
 */

let redis: TestRedisServer;
let admin: Redis;

beforeAll(async () => {
  redis = await startTestRedisServer();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  admin.disconnect();
  await redis.kill();
});

const events = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => aChangeEvent({ key: `${prefix}-${String(i)}` }));

describe('a stream trimmed past unread entries', () => {
  it('is reported once by the publisher, with the time from which to publish again', async () => {
    const stream = 'trimmed-publisher';
    await admin.xgroup('CREATE', stream, 'slow', '0', 'MKSTREAM');
    const sink = logSink('info');
    const publisher = createRedisStreamsPublisher({ url: redis.url }, { stream, maxLen: 100, watchIntervalMs: 50, logger: sink.logger });
    const losses: TransportLoss[] = [];
    publisher.onLoss((loss) => losses.push(loss));
    const startedAt = Date.now();
    try {
      // Nothing trimmed yet: nothing lost.
      await publisher.publish(events(50, 'a'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(losses).toEqual([]);

      for (let i = 0; i < 10; i += 1) await publisher.publish(events(100, `b${String(i)}`));
      await waitUntil('the loss', () => (losses.length > 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 });
      expect(losses[0]?.reason).toMatch(/entries were trimmed from the stream.s head, some before the consumer group "slow" \(at 0-0\)/);
      // The group had read nothing: everything may be lost.
      expect(losses[0]?.since?.getTime()).toBeLessThan(startedAt);
      // Still at the same position: not reported again.
      await publisher.publish(events(200, 'c'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(losses).toHaveLength(1);
      expect(sink.lines.filter((l) => l.level === 50 && /the stream lost entries no consumer had read/.test(l.msg ?? ''))).toHaveLength(1);
    } finally {
      await publisher.close();
    }
  });

  it('is reported by a source whose group falls behind the trim', async () => {
    const stream = 'trimmed-source';
    const sink = logSink('info');
    const publisher = createRedisStreamsPublisher({ url: redis.url }, { stream, maxLen: 100, watchIntervalMs: 0, logger: logSink('silent').logger });
    const source = createRedisStreamsSource({ url: redis.url }, { stream, group: 'lagging', batchSize: 10, blockMs: 50, watchIntervalMs: 50, logger: sink.logger });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let batches = 0;
    try {
      await publisher.publish(events(20, 'first'));
      await source.start(async () => {
        batches += 1;
        // The first batch is held while the stream is trimmed past what the group has read.
        if (batches === 1) await held;
        return { rejected: [] };
      });
      await waitUntil('the first batch', () => (batches > 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 });
      for (let i = 0; i < 10; i += 1) await publisher.publish(events(100, `more${String(i)}`));
      release();
      const report = await waitUntil(
        'the source to report the trim',
        () => sink.lines.find((l) => l.level === 50 && /entries of the stream were lost before this group read them/.test(l.msg ?? '')),
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      expect(report.msg).toMatch(/entries were trimmed from the stream.s head, some before the consumer group "lagging"/);
    } finally {
      release();
      await source.close();
      await publisher.close();
    }
  });
});
