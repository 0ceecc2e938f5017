import { waitUntil } from '../common/wait.fixture.js';
import { describe, expect, it } from 'vitest';
import { EventTooLargeError, TransportError } from '../common/errors.js';
import { logSink } from '../common/log-sink.fixture.js';
import { createStallWatch } from '../common/stall-watch.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { EventPublisher } from '../transports/transport.js';
import type { FailedOutboxRow, OutboxReader, OutboxRow } from './capture/outbox.js';
import { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from './relay.js';

function event(n: number): ChangeEvent {
  return {
    id: `e${n}`,
    source: 'test',
    type: 'orders.upserted',
    collection: 'orders',
    key: `k${n}`,
    version: BigInt(n),
    op: 'upsert',
    data: { id: `k${n}`, n },
    createdAt: '2024-05-01T10:00:00.000Z',
  };
}

/** An outbox in memory: rows in seq order, with the marks the relay made. */
function fakeOutbox(count: number) {
  const rows: OutboxRow[] = Array.from({ length: count }, (_, i) => ({ seq: BigInt(i + 1), event: event(i + 1) }));
  const published = new Set<string>();
  const failed = new Map<string, string>();
  const calls: string[] = [];
  let readFailures = 0;
  const reader: OutboxReader = {
    readBatch(limit) {
      calls.push(`read ${limit}`);
      if (readFailures > 0) {
        readFailures -= 1;
        return Promise.reject(new Error('connection refused'));
      }
      return Promise.resolve(rows.filter((r) => !published.has(r.event.id) && !failed.has(r.event.id)).slice(0, limit));
    },
    markPublished(marked) {
      calls.push(`mark ${marked.map((r) => r.event.id).join(',')}`);
      for (const r of marked) published.add(r.event.id);
      return Promise.resolve();
    },
    markFailed(failures: readonly FailedOutboxRow[]) {
      for (const f of failures) failed.set(f.row.event.id, f.reason);
      return Promise.resolve();
    },
    republishSince() {
      calls.push('republish');
      const count = published.size;
      published.clear();
      return Promise.resolve(count);
    },
  };
  return {
    reader,
    calls,
    /** Commits one more row. */
    add() {
      const n = rows.length + 1;
      rows.push({ seq: BigInt(n), event: event(n) });
    },
    published: () => [...published],
    failed,
    failReadsTimes(n: number) {
      readFailures = n;
    },
  };
}

type Step = 'ok' | Error | ((events: readonly ChangeEvent[]) => Error | 'ok') | { hold: Promise<void> };

/** A transport that acknowledges, or fails as scripted, call by call. */
function scriptedPublisher(...script: Step[]) {
  const acknowledged: string[] = [];
  const attempts: string[][] = [];
  const publisher: EventPublisher = {
    async publish(events) {
      attempts.push(events.map((e) => e.id));
      const step = script.shift() ?? 'ok';
      if (typeof step === 'object' && 'hold' in step) await step.hold;
      const outcome = typeof step === 'function' ? step(events) : step;
      if (outcome instanceof Error) {
        const prefix = outcome instanceof TransportError ? outcome.published : 0;
        acknowledged.push(...events.slice(0, prefix).map((e) => e.id));
        throw outcome;
      }
      acknowledged.push(...events.map((e) => e.id));
    },
    close: () => Promise.resolve(),
  };
  return { publisher, acknowledged, attempts };
}

/** A poll wait that never times out by itself: only a wake-up or stop() ends it. */
function untilAborted(_ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => { resolve(); }, { once: true });
  });
}

const start = new Date('2024-05-01T10:00:00.000Z');

function givenRelay(outbox: ReturnType<typeof fakeOutbox>, publisher: EventPublisher, overrides: Partial<OutboxRelayOptions> = {}) {
  const sleeps: number[] = [];
  const log = logSink();
  const relay: OutboxRelay = createOutboxRelay({
    reader: outbox.reader,
    publisher,
    logger: log.logger,
    batchSize: 3,
    pollIntervalMs: 500,
    backoff: (attempt) => attempt * 1000,
    now: () => start,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...overrides,
  });
  return { relay, sleeps, lines: log.lines };
}

describe('outbox relay', () => {
  it('marks rows only after the transport acknowledged them', async () => {
    const outbox = fakeOutbox(2);
    let releasePublish = (): void => undefined;
    const hold = new Promise<void>((resolve) => {
      releasePublish = resolve;
    });
    const transport = scriptedPublisher({ hold });
    const { relay } = givenRelay(outbox, transport.publisher);

    const ticking = relay.tick();
    await new Promise((resolve) => setImmediate(resolve));
    expect(outbox.published()).toEqual([]);
    releasePublish();

    expect(await ticking).toBe(2);
    expect(outbox.calls).toEqual(['read 3', 'mark e1,e2']);
    expect(outbox.published()).toEqual(['e1', 'e2']);
    expect(relay.stats()).toMatchObject({ published: 2, failed: 0, consecutiveFailures: 0 });
  });

  it('doubles its batch while passes come back full, up to maxBatchSize, and goes back to batchSize once a pass finds fewer rows', async () => {
    const outbox = fakeOutbox(33);
    const transport = scriptedPublisher();
    const { relay } = givenRelay(outbox, transport.publisher, { batchSize: 2, maxBatchSize: 8 });
    const handled: number[] = [];
    for (let pass = 0; pass < 7; pass += 1) handled.push(await relay.tick());

    expect(outbox.calls.filter((c) => c.startsWith('read'))).toEqual(['read 2', 'read 4', 'read 8', 'read 8', 'read 8', 'read 8', 'read 2']);
    expect(handled).toEqual([2, 4, 8, 8, 8, 3, 0]);
    expect(outbox.published()).toHaveLength(33);
    expect(transport.acknowledged).toEqual(outbox.published());
    expect(relay.stats().batchSize).toBe(2);
  });

  it('keeps a fixed batch without maxBatchSize', async () => {
    const outbox = fakeOutbox(7);
    const { relay } = givenRelay(outbox, scriptedPublisher().publisher);
    for (let pass = 0; pass < 4; pass += 1) await relay.tick();
    expect(outbox.calls.filter((c) => c.startsWith('read'))).toEqual(['read 3', 'read 3', 'read 3', 'read 3']);
  });

  it('leaves rows unmarked when the transport fails, and publishes them again on the next tick', async () => {
    const outbox = fakeOutbox(2);
    const transport = scriptedPublisher(new TransportError('retryable', 'socket hang up'), 'ok');
    const { relay, sleeps } = givenRelay(outbox, transport.publisher);

    expect(await relay.tick()).toBe(0);
    expect(outbox.published()).toEqual([]);
    expect(sleeps).toEqual([1000]);

    expect(await relay.tick()).toBe(2);
    expect(transport.attempts).toEqual([['e1', 'e2'], ['e1', 'e2']]);
    expect(outbox.published()).toEqual(['e1', 'e2']);
  });

  it('backs off longer with each retryable failure in a row', async () => {
    const outbox = fakeOutbox(1);
    const failure = new TransportError('retryable', '503');
    const transport = scriptedPublisher(failure, failure, failure, 'ok');
    const { relay, sleeps } = givenRelay(outbox, transport.publisher);

    for (let i = 0; i < 4; i += 1) await relay.tick();

    expect(sleeps).toEqual([1000, 2000, 3000]);
    expect(relay.stats().consecutiveFailures).toBe(0);
  });

  it('waits until the quota resets when rate limited, and logs the reset time once', async () => {
    const outbox = fakeOutbox(1);
    const resetAt = new Date(start.getTime() + 15 * 60_000);
    const limited = new TransportError('rateLimited', '429 Too Many Requests', { resetAt });
    const transport = scriptedPublisher(limited, limited, 'ok');
    const { relay, sleeps, lines } = givenRelay(outbox, transport.publisher);

    await relay.tick();
    expect(relay.stats().rateLimitedUntil).toBe(resetAt.toISOString());
    await relay.tick();
    await relay.tick();

    expect(sleeps).toEqual([15 * 60_000, 15 * 60_000]);
    expect(outbox.published()).toEqual(['e1']);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ resetAt: resetAt.toISOString(), component: 'outboxRelay' });
    expect(relay.stats().rateLimitedUntil).toBeUndefined();
  });

  it('keeps retrying slowly while the credentials are refused, losing nothing', async () => {
    const outbox = fakeOutbox(1);
    const refused = new TransportError('auth', '401 Unauthorized');
    const transport = scriptedPublisher(refused, refused, 'ok');
    const { relay, sleeps, lines } = givenRelay(outbox, transport.publisher, { authRetryMs: 60_000 });

    await relay.tick();
    expect(relay.stats().lastError).toMatchObject({ kind: 'auth' });
    await relay.tick();
    await relay.tick();

    expect(sleeps).toEqual([60_000, 60_000]);
    expect(outbox.published()).toEqual(['e1']);
    expect(lines.filter((l) => l.level === 50)).toHaveLength(2);
  });

  it('marks the acknowledged prefix when a batch fails part way', async () => {
    const outbox = fakeOutbox(3);
    const transport = scriptedPublisher(new TransportError('retryable', 'timeout', { published: 2 }), 'ok');
    const { relay } = givenRelay(outbox, transport.publisher);

    expect(await relay.tick()).toBe(2);
    expect(outbox.published()).toEqual(['e1', 'e2']);

    await relay.tick();
    expect(transport.attempts).toEqual([['e1', 'e2', 'e3'], ['e3']]);
    expect(outbox.published()).toEqual(['e1', 'e2', 'e3']);
  });

  it('dead-letters an event too large for the transport and lets the rows behind it flow', async () => {
    const outbox = fakeOutbox(3);
    const transport = scriptedPublisher((events) => (events.some((e) => e.id === 'e2') ? new EventTooLargeError('e2', 400, 280) : 'ok'));
    const { relay, sleeps } = givenRelay(outbox, transport.publisher);

    expect(await relay.tick()).toBe(1);
    expect(await relay.tick()).toBe(2);

    expect(outbox.failed.get('e2')).toMatch(/400 weighted characters/);
    expect(outbox.published()).toEqual(['e1', 'e3']);
    expect(transport.acknowledged).toEqual(['e1', 'e3']);
    expect(sleeps).toEqual([]);
    expect(relay.stats()).toMatchObject({ published: 2, failed: 1 });
  });

  it('isolates the event the transport refuses as invalid and dead-letters only that one', async () => {
    const outbox = fakeOutbox(3);
    const invalid = (events: readonly ChangeEvent[]) =>
      events[0]?.id === 'e2' ? new TransportError('invalid', '400 text too long') : 'ok';
    const transport = scriptedPublisher(new TransportError('invalid', '400 text too long', { published: 1 }), invalid, invalid);
    const { relay } = givenRelay(outbox, transport.publisher);

    await relay.tick();
    await relay.tick();
    await relay.tick();

    expect(transport.attempts).toEqual([['e1', 'e2', 'e3'], ['e2'], ['e3']]);
    expect(outbox.published()).toEqual(['e1', 'e3']);
    expect([...outbox.failed.keys()]).toEqual(['e2']);
    expect(outbox.failed.get('e2')).toMatch(/invalid: 400 text too long/);
  });

  it('tells its stall watch which batch it keeps retrying, and that it got through', async () => {
    const outbox = fakeOutbox(2);
    const transport = scriptedPublisher(new TransportError('retryable', 'socket hang up'), new TransportError('retryable', 'socket hang up again'), 'ok');
    const stalls = createStallWatch({ stuckAfterMs: 0, now: () => start });
    const { relay } = givenRelay(outbox, transport.publisher, { stalls });

    await relay.tick();
    await relay.tick();
    expect(stalls.retrying()).toEqual({
      subject: 'the outbox batch starting at event e1 (seq 1)',
      since: start.toISOString(),
      attempts: 2,
      lastError: 'socket hang up again',
      stuck: true,
    });
    await expect(stalls.check()).rejects.toThrow(/retrying the outbox batch starting at event e1 \(seq 1\) \(2 attempts\); last error: socket hang up again/);

    await relay.tick();
    expect(stalls.retrying()).toBeUndefined();
  });

  it('is not stuck while it waits out a quota, and an event refused for good moves it on', async () => {
    const outbox = fakeOutbox(3);
    const quota = new TransportError('rateLimited', 'rate limit', { resetAt: new Date(start.getTime() + 60_000) });
    const refused = new TransportError('invalid', 'X rejected the request (400)');
    const transport = scriptedPublisher(new TransportError('retryable', 'socket hang up'), quota, refused, refused, 'ok');
    const stalls = createStallWatch({ stuckAfterMs: 0, now: () => start });
    const { relay } = givenRelay(outbox, transport.publisher, { stalls });

    await relay.tick();
    expect(stalls.retrying()).toBeDefined();
    await relay.tick();
    expect(stalls.retrying()).toBeUndefined();
    await relay.tick();
    expect(stalls.retrying()?.subject).toBe('the outbox batch starting at event e1 (seq 1)');
    await relay.tick();
    expect(outbox.failed.get('e1')).toMatch(/^transport refused the event as invalid/);
    expect(stalls.retrying()).toBeUndefined();
    await relay.tick();
    expect(outbox.published()).toEqual(['e2', 'e3']);
  });

  it('retries with backoff when the outbox cannot be read', async () => {
    const outbox = fakeOutbox(1);
    outbox.failReadsTimes(1);
    const { relay, sleeps } = givenRelay(outbox, scriptedPublisher().publisher);

    expect(await relay.tick()).toBe(0);
    expect(await relay.tick()).toBe(1);

    expect(sleeps).toEqual([1000]);
    expect(relay.stats().lastError).toMatchObject({ kind: 'outbox', message: 'connection refused' });
  });

  it('drains the batch in flight when stopped, then stops polling', async () => {
    const outbox = fakeOutbox(2);
    let releasePublish = (): void => undefined;
    const hold = new Promise<void>((resolve) => {
      releasePublish = resolve;
    });
    const transport = scriptedPublisher({ hold });
    const { relay } = givenRelay(outbox, transport.publisher, {
      sleep: untilAborted,
    });

    relay.start();
    await new Promise((resolve) => setImmediate(resolve));
    expect(transport.attempts).toEqual([['e1', 'e2']]);
    let stopped = false;
    const stopping = relay.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);

    releasePublish();
    await stopping;

    expect(outbox.published()).toEqual(['e1', 'e2']);
    expect(relay.stats().state).toBe('stopped');
    const reads = outbox.calls.filter((c) => c.startsWith('read')).length;
    await relay.stop();
    expect(outbox.calls.filter((c) => c.startsWith('read')).length).toBe(reads);
  });

  it('reads again as soon as it is woken instead of waiting for the poll interval', async () => {
    const outbox = fakeOutbox(0);
    let wakeRelay = (): void => undefined;
    const { relay } = givenRelay(outbox, scriptedPublisher().publisher, {
      sleep: untilAborted,
      wake: (listener) => {
        wakeRelay = listener;
        return () => {
          wakeRelay = () => undefined;
        };
      },
    });

    relay.start();
    await new Promise((resolve) => setImmediate(resolve));
    const readsBefore = outbox.calls.length;
    wakeRelay();
    await new Promise((resolve) => setImmediate(resolve));

    expect(outbox.calls.length).toBe(readsBefore + 1);
    await relay.stop();
  });

  it('with a wake gate, turns notifications off while it finds rows, polls briefly, and turns them on only before it sleeps', async () => {
    const outbox = fakeOutbox(2);
    let wakeRelay = (): void => undefined;
    const sleeps: number[] = [];
    const { relay } = givenRelay(outbox, scriptedPublisher().publisher, {
      // Short waits (notifications off) return at once; the poll interval waits for a wake-up.
      sleep: (ms, signal) => {
        sleeps.push(ms);
        return ms === 500 ? untilAborted(ms, signal) : Promise.resolve();
      },
      wake: (listener) => {
        wakeRelay = listener;
        return () => {
          wakeRelay = () => undefined;
        };
      },
      wakeGate: {
        arm: () => {
          outbox.calls.push('arm');
          return Promise.resolve();
        },
        disarm: () => {
          outbox.calls.push('disarm');
          return Promise.resolve();
        },
      },
    });

    relay.start();
    await waitUntil('the relay sleeps', () => sleeps.includes(500));
    // Rows found: off (a relay before it may have left them on), and another pass at once. Then three
    // empty passes 5 ms apart: on, one more pass for the writers that skipped their notification, and
    // the long sleep.
    expect(outbox.calls).toEqual(['read 3', 'mark e1,e2', 'disarm', 'read 3', 'read 3', 'read 3', 'arm', 'read 3']);
    expect(sleeps).toEqual([5, 5, 500]);

    outbox.calls.length = 0;
    outbox.add();
    wakeRelay();
    await waitUntil('the relay sleeps again', () => sleeps.filter((ms) => ms === 500).length === 2);
    expect(outbox.calls).toEqual(['read 3', 'mark e3', 'disarm', 'read 3', 'read 3', 'read 3', 'arm', 'read 3']);
    expect(outbox.published()).toEqual(['e1', 'e2', 'e3']);
    await relay.stop();
  });

  it('publishes again what the transport lost, between passes, and at once; a relay that does not run leaves it to the one that does', async () => {
    const outbox = fakeOutbox(2);
    const transport = scriptedPublisher();
    const { relay, lines } = givenRelay(outbox, transport.publisher, { sleep: untilAborted });
    const loss = { reason: 'the stream was reset', since: new Date('2024-05-01T09:00:00.000Z') };
    expect(await relay.republish(loss)).toBe(0);
    expect(outbox.calls).not.toContain('republish');

    relay.start();
    await waitUntil('the first pass', () => (outbox.published().length === 2 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    expect(await relay.republish(loss)).toBe(2);
    // Woken at once, the relay sends the rows again without waiting for the poll interval.
    await waitUntil('the rows sent again', () => (transport.attempts.length === 2 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    expect(transport.attempts).toEqual([['e1', 'e2'], ['e1', 'e2']]);
    expect(lines.find((l) => /publishing them again from the outbox/.test(l.msg ?? ''))?.level).toBe(50);
    await relay.stop();
  });
});
