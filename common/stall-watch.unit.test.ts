import { describe, expect, it } from 'vitest';
import { createEnvReader } from './config/env-reader.js';
import { createStallWatch, readStuckAfterMs } from './stall-watch.js';

describe('stall watch', () => {
  const at = (iso: string) => new Date(iso);

  it('is ready while work gets through, and while a run of failures is younger than the bound', async () => {
    let now = at('2026-03-01T10:00:00.000Z');
    const watch = createStallWatch({ stuckAfterMs: 60_000, now: () => now });
    await expect(watch.check()).resolves.toBeUndefined();

    watch.failed('the batch starting at message 7', new Error('connection refused'));
    now = at('2026-03-01T10:00:59.999Z');

    await expect(watch.check()).resolves.toBeUndefined();
    expect(watch.retrying()).toMatchObject({ stuck: false, attempts: 1 });
  });

  it('fails once a run of failures is as old as the bound, naming what is retried and the last error', async () => {
    let now = at('2026-03-01T10:00:00.000Z');
    const watch = createStallWatch({ stuckAfterMs: 60_000, now: () => now });
    watch.failed('the batch starting at message 7', new Error('connection refused'));
    now = at('2026-03-01T10:00:30.000Z');
    watch.failed('the batch starting at message 7', new Error('read model: could not apply a batch', { cause: new Error('timeout') }));
    now = at('2026-03-01T10:01:15.000Z');

    await expect(watch.check()).rejects.toThrow(
      'stuck for 75 s retrying the batch starting at message 7 (2 attempts); last error: read model: could not apply a batch: timeout',
    );
    expect(watch.retrying()).toEqual({
      subject: 'the batch starting at message 7',
      since: '2026-03-01T10:00:00.000Z',
      attempts: 2,
      lastError: 'read model: could not apply a batch: timeout',
      stuck: true,
    });
  });

  it('starts over after a success', async () => {
    let now = at('2026-03-01T10:00:00.000Z');
    const watch = createStallWatch({ stuckAfterMs: 1_000, now: () => now });
    watch.failed('a', new Error('x'));
    now = at('2026-03-01T10:00:05.000Z');
    watch.succeeded();
    watch.failed('b', new Error('y'));

    await expect(watch.check()).resolves.toBeUndefined();
    expect(watch.retrying()).toMatchObject({ subject: 'b', since: '2026-03-01T10:00:05.000Z', attempts: 1 });
  });

  it('masks a password inside a URL in the error it shows', () => {
    const watch = createStallWatch({ stuckAfterMs: 1_000 });
    watch.failed('a', new Error('could not reach postgres://app:hunter2@db:5432/rm'));
    expect(watch.retrying()?.lastError).not.toContain('hunter2');
  });

  it('reads a stuck bound, with a default, and names the variable when it is wrong', () => {
    expect(readStuckAfterMs('CONSUMER_STUCK_AFTER_MS', createEnvReader({}))).toBe(60_000);
    expect(readStuckAfterMs('RELAY_STUCK_AFTER_MS', createEnvReader({ RELAY_STUCK_AFTER_MS: '5000' }))).toBe(5_000);
    const reader = createEnvReader({ CONSUMER_STUCK_AFTER_MS: 'soon' });
    readStuckAfterMs('CONSUMER_STUCK_AFTER_MS', reader);
    expect(reader.issues).toEqual(['CONSUMER_STUCK_AFTER_MS should hold milliseconds a batch may be retried before /readyz fails, 1000 to 86400000']);
  });
});
