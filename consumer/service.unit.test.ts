import { newPglite } from '../common/pglite.fixture.js';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { waitUntil } from '../common/wait.fixture.js';
import { createJsonDecoder } from '../events/json-codec.js';
import { createInMemoryBus } from '../transports/in-memory/in-memory-bus.js';
import type { EventSource } from '../transports/transport.js';
import { startConsumer, type ConsumerService, type ConsumerServiceOptions } from './service.js';
import { createEmbeddedReadModelStore } from './stores/embedded/embedded-read-model-store.js';
import { anUpsert } from './stores/read-model-store.contract.js';
import type { ReadModelStore } from './stores/read-model-store.js';
import { openTrust } from './trust.js';

const logger = createLogger({ level: 'silent' });

/** Polls until `probe` returns a value; the bus delivers asynchronously. */
const eventually = <T>(probe: () => Promise<T | undefined>, what = 'the condition'): Promise<T> => waitUntil(what, probe, { timeoutMs: 10_000, intervalMs: 25 });

/** What every consumer here shares: the orders collection, JSON envelopes, open trust. */
function consumerOptions(store: ReadModelStore, source: EventSource, transportName = 'in-memory'): ConsumerServiceOptions {
  return { port: 0, host: '127.0.0.1', collections: ['orders'], transportName, store, source, decode: createJsonDecoder({ collections: ['orders'] }), trust: openTrust(), logger };
}

describe('consumer service', () => {
  let store: ReadModelStore | undefined;
  let service: ConsumerService | undefined;
  let pglite: PGlite;
  let schemas = 0;
  const newStore = () => {
    schemas += 1;
    return createEmbeddedReadModelStore({ pglite }, { schema: `service_${schemas}`, logger });
  };

  beforeAll(async () => {
    pglite = await newPglite();
  });
  afterAll(async () => {
    await pglite.close();
  });

  afterEach(async () => {
    await service?.close();
    await store?.close();
    service = undefined;
    store = undefined;
  });

  it('applies published events and serves them over HTTP, and dead-letters garbage', async () => {
    store = await newStore();
    const bus = createInMemoryBus();
    service = await startConsumer(consumerOptions(store, bus.source({ checkpoints: store, checkpointName: 'consumer', logger })));

    await bus.publisher().publish([anUpsert('h1', 1, { status: 'OPEN' })]);
    bus.appendRaw('{"this is": garbage', 'junk');
    const { url } = service;

    const doc = await eventually(async () => {
      const res = await fetch(`${url}/api/orders/h1`);
      return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
    });
    expect(doc).toMatchObject({ id: 'h1', version: '1', data: { id: 'h1', status: 'OPEN' } });
    const letters = await eventually(async () => {
      const body = (await (await fetch(`${url}/api/_deadletters`)).json()) as { items: unknown[] };
      return body.items.length > 0 ? body.items : undefined;
    });
    expect(letters).toEqual([expect.objectContaining({ transport: 'in-memory', text: '{"this is": garbage' })]);
    expect(await store.load('consumer')).toBeDefined();
  });

  it('fails /readyz while one batch has been retried longer than the bound, naming it and the error, until it gets through', async () => {
    const real = await newStore();
    store = real;
    let down = true;
    const flaky: ReadModelStore = {
      ...real,
      applyBatch: (events) =>
        down ? Promise.reject(new StoreUnavailableError('read model: could not apply a batch', { cause: new Error('connection refused') })) : real.applyBatch(events),
    };
    const bus = createInMemoryBus();
    service = await startConsumer({
      ...consumerOptions(flaky, bus.source({ checkpoints: real, checkpointName: 'consumer', logger, handlerBackoff: () => 20 })),
      stuckAfterMs: 1_000,
    });
    const { url } = service;
    const readyz = async () => {
      const res = await fetch(`${url}/readyz`);
      return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
    };
    expect((await readyz()).status).toBe(200);

    await bus.publisher().publish([anUpsert('s1', 1, { status: 'OPEN' })]);
    const stuck = await eventually(async () => {
      const answer = await readyz();
      return answer.status === 503 ? answer : undefined;
    }, 'the consumer to count as stuck');

    const stats = (await (await fetch(`${url}/api/_stats`)).json()) as { retrying: { subject: string; stuck: boolean } };
    expect(stats.retrying).toMatchObject({ subject: expect.stringMatching(/^the batch starting at message \S+$/) as unknown, stuck: true });
    expect(stuck.body.checks['pipeline']).toMatch(
      new RegExp(`^stuck for \\d+ s retrying ${stats.retrying.subject} \\(\\d+ attempts\\); last error: read model: could not apply a batch: connection refused$`),
    );
    expect(stuck.body.checks['store']).toBe('ok');

    down = false;
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 'the batch to get through');
    expect(await real.get('orders', 's1')).toBeDefined();
    expect(((await (await fetch(`${url}/api/_stats`)).json()) as { retrying: unknown }).retrying).toBeNull();
  });

  it('closes the HTTP server when the source cannot start, and rethrows', async () => {
    store = await newStore();
    const failing: EventSource = {
      start: () => Promise.reject(new Error('auth failed')),
      close: () => Promise.resolve(),
    };

    await expect(
      startConsumer(consumerOptions(store, failing, 'x')),
    ).rejects.toThrow('auth failed');
  });

  it('closing twice is harmless and closes the source once', async () => {
    store = await newStore();
    let closes = 0;
    const source: EventSource = {
      start: () => Promise.resolve(),
      close: () => {
        closes += 1;
        return Promise.resolve();
      },
    };
    service = await startConsumer(consumerOptions(store, source, 'x'));

    await Promise.all([service.close(), service.close()]);
    await service.close();

    expect(closes).toBe(1);
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  });
});
