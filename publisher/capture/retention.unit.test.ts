import { describe, expect, it } from 'vitest';
import { logSink } from '../../common/log-sink.fixture.js';
import { waitUntil } from '../../common/wait.fixture.js';
import type { OutboxRetention } from './outbox.js';
import { createOutboxRetentionJob, type OutboxRetentionJobOptions } from './retention.js';

const start = new Date('2024-05-01T10:00:00.000Z');
const hour = 3_600_000;

type Step = 'ok' | Error | { hold: Promise<void> };

/** Published rows in memory, by the time they were published; deletes the oldest first, as the outbox does. */
function fakeRetention(publishedAt: readonly Date[]) {
  let rows = [...publishedAt].sort((a, b) => a.getTime() - b.getTime());
  const calls: { before: string; limit: number }[] = [];
  const script: Step[] = [];
  const retention: OutboxRetention = {
    async deletePublished(before, limit) {
      calls.push({ before: before.toISOString(), limit });
      const step = script.shift() ?? 'ok';
      if (step instanceof Error) throw step;
      if (step !== 'ok') await step.hold;
      const old = rows.filter((r) => r < before).slice(0, limit);
      rows = rows.filter((r) => !old.includes(r));
      return old.length;
    },
  };
  return {
    retention,
    calls,
    remaining: () => rows.map((r) => r.toISOString()),
    add: (...more: Date[]) => {
      rows.push(...more);
    },
    /** The next calls fail or wait as scripted, then succeed. */
    script: (...steps: Step[]) => {
      script.push(...steps);
    },
  };
}

function hoursAgo(...hours: number[]): Date[] {
  return hours.map((h) => new Date(start.getTime() - h * hour));
}

/** Sleeps that end only when the test lets them (or the job stops), so nothing depends on time passing. */
function manualSleep() {
  const waiting: { ms: number; wake: () => void }[] = [];
  const requested: number[] = [];
  function sleep(ms: number, signal: AbortSignal): Promise<void> {
    requested.push(ms);
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        ms,
        wake: () => {
          waiting.splice(waiting.indexOf(entry), 1);
          resolve();
        },
      };
      waiting.push(entry);
      signal.addEventListener('abort', entry.wake, { once: true });
    });
  }
  return {
    sleep,
    requested,
    /** Waits until the job sleeps, then wakes it; resolves with how long it asked to sleep. */
    async wakeNext(): Promise<number> {
      await waitUntil('the job to sleep', () => waiting.length > 0);
      const entry = waiting[0]!;
      entry.wake();
      return entry.ms;
    },
  };
}

function givenJob(outbox: ReturnType<typeof fakeRetention>, overrides: Partial<OutboxRetentionJobOptions> = {}) {
  const log = logSink('info');
  const sleeper = manualSleep();
  const job = createOutboxRetentionJob({
    retention: outbox.retention,
    maxAgeMs: 24 * hour,
    batchSize: 2,
    intervalMs: 60_000,
    pauseMs: 100,
    backoff: (attempt) => attempt * 1_000,
    logger: log.logger,
    now: () => start,
    sleep: sleeper.sleep,
    ...overrides,
  });
  return { job, sleeper, lines: log.lines };
}

describe('outbox retention job', () => {
  it('deletes rows published before now minus the maximum age, batch after batch until a batch comes back short', async () => {
    const outbox = fakeRetention([...hoursAgo(30, 29, 28, 27, 26), ...hoursAgo(1)]);
    const { job, sleeper, lines } = givenJob(outbox);

    const running = job.runOnce();
    expect(await sleeper.wakeNext()).toBe(100);
    expect(await sleeper.wakeNext()).toBe(100);

    expect(await running).toBe(5);
    expect(outbox.calls).toEqual(Array.from({ length: 3 }, () => ({ before: '2024-04-30T10:00:00.000Z', limit: 2 })));
    expect(outbox.remaining()).toEqual(hoursAgo(1).map((d) => d.toISOString()));
    expect(lines.filter((l) => l.msg === 'deleted published outbox rows')).toEqual([
      expect.objectContaining({ deleted: 5, batches: 3, publishedBefore: '2024-04-30T10:00:00.000Z', component: 'outboxRetention' }),
    ]);
  });

  it('asks once, without pausing or logging a deletion, when nothing is old enough', async () => {
    const outbox = fakeRetention(hoursAgo(1, 2));
    const { job, sleeper, lines } = givenJob(outbox);

    expect(await job.runOnce()).toBe(0);

    expect(outbox.calls).toHaveLength(1);
    expect(sleeper.requested).toEqual([]);
    expect(lines.filter((l) => l.msg === 'deleted published outbox rows')).toEqual([]);
  });

  it('runs at start and again after each interval', async () => {
    const outbox = fakeRetention(hoursAgo(25));
    const { job, sleeper } = givenJob(outbox);

    job.start();
    expect(await sleeper.wakeNext()).toBe(60_000);
    expect(outbox.remaining()).toEqual([]);

    outbox.add(...hoursAgo(48));
    expect(await sleeper.wakeNext()).toBe(60_000);
    expect(outbox.remaining()).toEqual([]);
    expect(outbox.calls).toHaveLength(2);
    await job.stop();
  });

  it('logs a failure, backs off longer each time up to the interval, and keeps running', async () => {
    const outbox = fakeRetention(hoursAgo(25));
    outbox.script(new Error('connection refused'), new Error('connection refused'), new Error('connection refused'));
    const { job, sleeper, lines } = givenJob(outbox, { intervalMs: 2_500 });

    job.start();
    expect(await sleeper.wakeNext()).toBe(1_000);
    expect(await sleeper.wakeNext()).toBe(2_000);
    expect(await sleeper.wakeNext()).toBe(2_500);
    expect(await sleeper.wakeNext()).toBe(2_500);

    expect(outbox.remaining()).toEqual([]);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((w) => w.attempt)).toEqual([1, 2, 3]);
    expect(warnings[0]).toMatchObject({ msg: 'outbox retention failed; retrying', err: { message: 'connection refused' } });
    await job.stop();
  });

  it('rejects a single run when the outbox cannot be reached, after logging what it deleted before', async () => {
    const outbox = fakeRetention(hoursAgo(30, 29, 28));
    outbox.script('ok', new Error('connection reset'));
    const { job, sleeper, lines } = givenJob(outbox);

    const running = job.runOnce();
    await sleeper.wakeNext();

    await expect(running).rejects.toThrow('connection reset');
    expect(lines.filter((l) => l.msg === 'deleted published outbox rows')).toEqual([expect.objectContaining({ deleted: 2 })]);
  });

  it('lets the batch in flight finish on stop, and starts no further batch', async () => {
    const outbox = fakeRetention(hoursAgo(30, 29, 28));
    let release = (): void => undefined;
    outbox.script({ hold: new Promise((resolve) => (release = resolve)) });
    const { job } = givenJob(outbox);
    job.start();
    await waitUntil('the first batch', () => outbox.calls.length === 1);

    const stopping = job.stop();
    // The fakes answer in microtasks: whatever stop() could do without the batch has run by the next turn of the loop.
    const first = await Promise.race([stopping.then(() => 'stopped'), new Promise((resolve) => setImmediate(resolve, 'still stopping'))]);
    expect(first).toBe('still stopping');
    release();
    await stopping;

    expect(outbox.calls).toHaveLength(1);
    expect(outbox.remaining()).toHaveLength(1);
  });

  it('stops at once while it waits for the next run, and can start again', async () => {
    const outbox = fakeRetention([]);
    const { job, sleeper } = givenJob(outbox);
    job.start();
    await waitUntil('the wait for the next run', () => sleeper.requested.length === 1);

    await job.stop();
    await job.stop();
    outbox.add(...hoursAgo(25));
    job.start();
    await sleeper.wakeNext();

    expect(outbox.calls).toHaveLength(2);
    expect(outbox.remaining()).toEqual([]);
    await job.stop();
  });

  it('refuses a batch size below 1', () => {
    expect(() => givenJob(fakeRetention([]), { batchSize: 0 })).toThrow(RangeError);
  });
});
