import { createLogger } from '../../common/logger.js';
import { describe, expect, it } from 'vitest';
import { createJsonDecoder } from '../../events/json-codec.js';
import { anEvent, describeTransportContract } from '../transport.contract.js';
import type { InboundMessage } from '../transport.js';
import { createInMemoryCheckpointStore } from './checkpoint-store.js';
import { createInMemoryBus } from './in-memory-bus.js';
import { waitUntil } from '../../common/wait.fixture.js';

describeTransportContract('in-memory', () => {
  const bus = createInMemoryBus();
  const publisher = bus.publisher();
  return Promise.resolve({
    publisher,
    source: (options) => bus.source({ ...options, logger: quiet, group: options.checkpointName, handlerBackoff: () => 5 }),
    decoder: createJsonDecoder({ collections: ['orders', 'customers'] }),
    collections: ['orders', 'customers'],
    sendPoison: () => {
      bus.appendRaw('#orders {"id": not json');
      return Promise.resolve();
    },
    mayRepeatAfterRestart: false,
    deadLetters: () => Promise.resolve(bus.deadLetters()),
    groupsShareWork: true,
    cleanup: () => publisher.close(),
  });
});

const quiet = createLogger({ level: 'silent' });
const waitFor = (condition: () => boolean): Promise<true> => waitUntil('the condition', condition, { timeoutMs: 5_000, intervalMs: 5 });

describe('in-memory bus', () => {
  it('message ids are log offsets and the checkpoint is the last offset handled', async () => {
    const bus = createInMemoryBus();
    const checkpoints = createInMemoryCheckpointStore();
    const seen: InboundMessage[] = [];
    const source = bus.source({ logger: quiet, checkpoints, checkpointName: 'cp' });
    await source.start((batch) => {
      seen.push(...batch);
      return Promise.resolve();
    });
    await bus.publisher().publish([anEvent('orders', 'a', 1n), anEvent('orders', 'b', 1n)]);
    await waitFor(() => seen.length === 2);
    await source.close();
    expect(seen.map((m) => m.id)).toEqual(['0', '1']);
    expect(await checkpoints.load('cp')).toBe('1');
  });

  it('independent sources each receive every message', async () => {
    const bus = createInMemoryBus();
    const a: string[] = [];
    const b: string[] = [];
    const sa = bus.source({ logger: quiet, checkpoints: createInMemoryCheckpointStore(), checkpointName: 'a' });
    const sb = bus.source({ logger: quiet, checkpoints: createInMemoryCheckpointStore(), checkpointName: 'b' });
    await sa.start((batch) => { a.push(...batch.map((m) => m.id)); return Promise.resolve(); });
    await sb.start((batch) => { b.push(...batch.map((m) => m.id)); return Promise.resolve(); });
    await bus.publisher().publish([anEvent('orders', 'a', 1n), anEvent('orders', 'b', 1n), anEvent('orders', 'c', 1n)]);
    await waitFor(() => a.length === 3 && b.length === 3);
    await Promise.all([sa.close(), sb.close()]);
    expect(a).toEqual(b);
  });

  it('sources in one group split the messages by key, each message to one member, keys in order', async () => {
    const bus = createInMemoryBus();
    const checkpoints = createInMemoryCheckpointStore();
    const received = new Map<string, InboundMessage[]>([['m1', []], ['m2', []]]);
    const members = ['m1', 'm2'].map((name) => ({ name, source: bus.source({ logger: quiet, checkpoints, checkpointName: 'g', group: 'workers', batchSize: 3 }) }));
    for (const { name, source } of members) {
      await source.start(async (batch) => {
        received.get(name)?.push(...batch);
        await new Promise((resolve) => setTimeout(resolve, 1));
      });
    }
    const events = Array.from({ length: 40 }, (_, i) => anEvent('orders', `k${i % 8}`, BigInt(Math.floor(i / 8) + 1)));
    await bus.publisher().publish(events);
    const all = (): InboundMessage[] => [...(received.get('m1') ?? []), ...(received.get('m2') ?? [])];
    await waitFor(() => all().length === 40);
    await Promise.all(members.map((m) => m.source.close()));
    expect(new Set(all().map((m) => m.id)).size).toBe(40);
    expect(received.get('m1')?.length).toBeGreaterThan(0);
    expect(received.get('m2')?.length).toBeGreaterThan(0);
    const decoder = createJsonDecoder({ collections: ['orders'] });
    for (const [, messages] of received) {
      const byKey = new Map<string, bigint[]>();
      for (const m of messages) {
        const decoded = decoder(m);
        if (!decoded.ok) throw new Error(decoded.reason);
        for (const e of decoded.events) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.version]);
      }
      for (const versions of byKey.values()) expect(versions).toEqual([...versions].sort((x, y) => Number(x - y)));
    }
  });

  it('close waits for the handler in flight before it resolves', async () => {
    const bus = createInMemoryBus();
    let finished = false;
    let entered = false;
    const source = bus.source({ logger: quiet, checkpoints: createInMemoryCheckpointStore(), checkpointName: 'c' });
    await source.start(async () => {
      entered = true;
      await new Promise((resolve) => setTimeout(resolve, 50));
      finished = true;
    });
    await bus.publisher().publish([anEvent('orders', 'a', 1n)]);
    await waitFor(() => entered);
    await source.close();
    expect(finished).toBe(true);
    await source.close();
  });
});
