import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../common/errors.js';
import { logSink } from '../common/log-sink.fixture.js';
import { createStallWatch } from '../common/stall-watch.js';
import { createSourceRunner, type PulledBatch, type SourceRunner } from './source-runner.js';
import type { BatchResult, InboundMessage } from './transport.js';

const message = (id: string): InboundMessage => ({ id, text: `text ${id}`, receivedAt: new Date('2026-03-01T10:00:00.000Z') });

function aRunner() {
  const log = logSink();
  const waits: number[] = [];
  const runner = createSourceRunner({
    name: 'test source',
    logger: log.logger,
    handlerBackoff: (attempt) => {
      waits.push(attempt);
      return 1;
    },
  });
  return { runner, log, waits };
}

type Numbered = PulledBatch & { n: number };

/** A pull source's `next` over `batches`, noting each it gives; it closes the runner once they are gone. */
function takeFrom<B extends PulledBatch & { n: number }>(runner: SourceRunner, batches: B[], events: string[]): () => Promise<B | undefined> {
  return () => {
    const batch = batches.shift();
    if (batch === undefined) {
      void runner.close(() => Promise.resolve());
      return Promise.resolve(undefined);
    }
    events.push(`next ${String(batch.n)}`);
    return Promise.resolve(batch);
  };
}

describe('the delivery loop every source shares', () => {
  it('starts once, refuses a start after close, and closes once', async () => {
    const { runner } = aRunner();
    const handler = () => Promise.resolve();
    runner.begin(handler);
    expect(() => {
      runner.begin(handler);
    }).toThrow('this test source was already started');
    let stops = 0;
    const stop = () => {
      stops += 1;
      return Promise.resolve();
    };
    await Promise.all([runner.close(stop), runner.close(stop)]);
    await runner.close(stop);
    expect(stops).toBe(1);
    expect(runner.isClosed()).toBe(true);
    expect(runner.signal.aborted).toBe(true);
    const other = aRunner().runner;
    await other.close(stop);
    expect(() => {
      other.begin(handler);
    }).toThrow('this test source is closed');
  });

  it('delivers the same batch until the handler resolves, and tells the stall watch of each failure by the first message, then of the success', async () => {
    let now = new Date('2026-03-01T10:00:00.000Z');
    const stalls = createStallWatch({ stuckAfterMs: 60_000, now: () => now });
    const { runner, log, waits } = aRunner();
    const seen: string[][] = [];
    let failures = 2;
    runner.begin((batch) => {
      seen.push(batch.map((m) => m.id));
      if (failures > 0) {
        failures -= 1;
        now = new Date(now.getTime() + 60_000);
        return Promise.reject(new StoreUnavailableError('read model: could not apply a batch', { cause: new Error('connection refused') }));
      }
      expect(stalls.retrying()).toEqual({
        subject: 'the batch starting at message m1',
        since: '2026-03-01T10:01:00.000Z',
        attempts: 2,
        lastError: 'read model: could not apply a batch: connection refused',
        stuck: true,
      });
      return Promise.resolve({ rejected: [{ message: message('m2'), reason: 'bad' }] });
    }, { stalls });

    const result = await runner.deliver([message('m1'), message('m2')]);
    expect(result?.rejected.map((r) => r.reason)).toEqual(['bad']);
    expect(seen).toEqual([['m1', 'm2'], ['m1', 'm2'], ['m1', 'm2']]);
    expect(waits).toEqual([1, 2]);
    expect(stalls.retrying()).toBeUndefined();
    expect(log.lines.filter((l) => l.msg === 'the handler failed; the same batch will be delivered again').map((l) => l.level)).toEqual([50, 50]);
  });

  it('gives a batch up when the source closes, or the batch stops being its own, while the handler keeps failing', async () => {
    const { runner } = aRunner();
    runner.begin(() => Promise.reject(new Error('down')));
    let active = true;
    const delivering = runner.deliver([message('m1')], { active: () => active, beforeRetry: () => Promise.resolve() });
    active = false;
    expect(await delivering).toBeUndefined();
  });

  it('pulls, delivers and settles one batch at a time, in order; a batch without messages is settled without the handler', async () => {
    const { runner } = aRunner();
    const events: string[] = [];
    const batches: (PulledBatch & { n: number })[] = [
      { n: 1, messages: [message('a')] },
      { n: 2, messages: [] },
      { n: 3, messages: [message('b'), message('c')] },
    ];
    runner.begin((batch) => {
      events.push(`handle ${batch.map((m) => m.id).join(',')}`);
      return Promise.resolve();
    });
    const pulling = runner.pull<Numbered>({
      next: takeFrom(runner, batches, events),
      settle(batch, result: BatchResult) {
        events.push(`settle ${String(batch.n)} (${String(result.rejected.length)} rejected)`);
        return Promise.resolve();
      },
      release(batch) {
        events.push(`release ${String(batch.n)}`);
      },
    });
    await pulling;
    expect(events).toEqual([
      'next 1', 'handle a', 'settle 1 (0 rejected)', 'release 1',
      'next 2', 'settle 2 (0 rejected)', 'release 2',
      'next 3', 'handle b,c', 'settle 3 (0 rejected)', 'release 3',
    ]);
  });

  it('with prefetch, fetches the next batch while the current one is handled, and still delivers and settles one batch at a time, in order', async () => {
    const { runner } = aRunner();
    const events: string[] = [];
    const batches: (PulledBatch & { n: number })[] = [
      { n: 1, messages: [message('a')] },
      { n: 2, messages: [message('b')] },
      { n: 3, messages: [message('c')] },
    ];
    runner.begin(async (batch) => {
      events.push(`handle ${batch.map((m) => m.id).join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    await runner.pull<Numbered>({
      prefetch: true,
      next: takeFrom(runner, batches, events),
      settle(batch) {
        events.push(`settle ${String(batch.n)}`);
        return Promise.resolve();
      },
    });
    expect(events).toEqual([
      'next 1', 'next 2', 'handle a', 'settle 1',
      'next 3', 'handle b', 'settle 2',
      'handle c', 'settle 3',
    ]);
  });

  it('with prefetch, hands a batch fetched ahead to the hooks\' prepare while the batch before it is handled, and a prepare that throws changes nothing', async () => {
    const { runner } = aRunner();
    const events: string[] = [];
    const batches: PulledBatch[] = [{ messages: [message('a')] }, { messages: [message('b')] }, { messages: [message('c')] }];
    runner.begin(
      async (batch) => {
        events.push(`handle ${batch.map((m) => m.id).join(',')}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
      {
        prepare: (messages) => {
          events.push(`prepare ${messages.map((m) => m.id).join(',')}`);
          if (messages[0]?.id === 'c') throw new Error('cannot prepare');
        },
      },
    );
    await runner.pull({
      prefetch: true,
      next() {
        const batch = batches.shift();
        if (batch === undefined) void runner.close(() => Promise.resolve());
        return Promise.resolve(batch);
      },
      settle: () => Promise.resolve(),
    });
    expect(events).toEqual(['handle a', 'prepare b', 'handle b', 'prepare c', 'handle c']);
  });

  it('with prefetch, releases a batch fetched ahead and never delivered when the source closes', async () => {
    const { runner } = aRunner();
    const events: string[] = [];
    let n = 0;
    runner.begin(async () => {
      events.push('handle');
      await runner.close(() => Promise.resolve());
    });
    await runner.pull({
      prefetch: true,
      next() {
        n += 1;
        events.push(`next ${String(n)}`);
        return Promise.resolve({ n, messages: [message(`m${String(n)}`)] });
      },
      settle(batch) {
        events.push(`settle ${String(batch.n)}`);
        return Promise.resolve();
      },
      release(batch) {
        events.push(`release ${String(batch.n)}`);
      },
    });
    expect(events).toEqual(['next 1', 'next 2', 'handle', 'settle 1', 'release 1', 'release 2']);
  });

  it('retries a step after the handler until it succeeds, counting each failure as the batch\'s', async () => {
    const stalls = createStallWatch({ stuckAfterMs: 60_000 });
    const { runner, log } = aRunner();
    runner.begin(() => Promise.resolve(), { stalls });
    let attempts = 0;
    let beforeTheLast: unknown;
    const done = await runner.retry('acknowledge the batch', () => {
      attempts += 1;
      if (attempts < 3) return Promise.reject(new Error('connection reset'));
      beforeTheLast = stalls.retrying();
      return Promise.resolve();
    }, { subject: 'the batch starting at message m1' });
    expect(done).toBe(true);
    expect(attempts).toBe(3);
    expect(beforeTheLast).toMatchObject({ subject: 'the batch starting at message m1', attempts: 2, lastError: 'connection reset' });
    expect(stalls.retrying()).toBeUndefined();
    expect(log.lines.filter((l) => l.msg === 'could not acknowledge the batch; retrying')).toHaveLength(2);
  });

  it('waits between a step\'s attempts by the backoff it is given (Redis: its reconnect delay), not the handler\'s', async () => {
    const { runner, waits } = aRunner();
    runner.begin(() => Promise.resolve());
    const given: number[] = [];
    const failures: unknown[] = [];
    let attempts = 0;
    const done = await runner.retry('acknowledge the batch', () => {
      attempts += 1;
      return attempts < 3 ? Promise.reject(new Error(`down ${String(attempts)}`)) : Promise.resolve();
    }, {
      backoff: (attempt) => {
        given.push(attempt);
        return 1;
      },
      onFailure: (err) => failures.push(err instanceof Error ? err.message : err),
    });
    expect(done).toBe(true);
    expect(given).toEqual([1, 2]);
    expect(waits).toEqual([]);
    expect(failures).toEqual(['down 1', 'down 2']);
  });
});
