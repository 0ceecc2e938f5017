import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTransportError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { ChangeEvent } from '../../events/envelope.js';
import { createHashtagMap, createPostDecoder } from './post-codec.js';
import { createEventSigner } from '../../events/signature.js';
import { startXEmulator, type XEmulator } from '../../x-emulator/server.js';
import { createInMemoryCheckpointStore } from '../in-memory/checkpoint-store.js';
import { anEvent, describeTransportContract } from '../transport.contract.js';
import type { CheckpointStore, EventPublisher, InboundMessage } from '../transport.js';
import { createXPublisher } from './x-publisher.js';
import { createXSource, type XSource } from './x-source.js';
import { waitUntil } from '../../common/wait.fixture.js';

const collections = ['orders', 'customers'] as const;
const hashtags = createHashtagMap(collections);
const signer = createEventSigner('test-key-test-key-test-key-test-key');
const decoder = createPostDecoder({ hashtags, verify: (event, signature) => signer.verify(event, signature) });
const logger = createLogger({ level: 'silent' });
const fast = { network: () => 20, http: () => 50, rateLimit: () => 100 };

function publisherFor(emulator: XEmulator): EventPublisher {
  const c = emulator.credentials;
  return createXPublisher(
    { apiUrl: emulator.url, ca: emulator.ca, credentials: { appKey: c.apiKey, appSecret: c.apiSecret, accessToken: c.accessToken, accessSecret: c.accessSecret } },
    {
      hashtags,
      logger,
      retryBackoff: () => 20,
      duplicateSearchDelaysMs: [20, 20],
      sign: (event) => signer.sign(event),
    },
  );
}

function sourceFor(emulator: XEmulator, checkpoints: CheckpointStore, checkpointName = 'x'): XSource {
  return createXSource(
    { apiUrl: emulator.url, ca: emulator.ca, bearerToken: emulator.credentials.bearerToken },
    {
      hashtags,
      checkpoints,
      checkpointName,
      logger,
      heartbeatTimeoutMs: 1_000,
      reconnectBackoff: fast,
      handlerBackoff: () => 20,
    },
  );
}

describeTransportContract('X over the emulator (HTTPS)', async () => {
  const emulator = await startXEmulator({ port: 0, keepAliveMs: 200, logger });
  const publisher = publisherFor(emulator);
  return {
    publisher,
    source: ({ checkpoints, checkpointName }) => sourceFor(emulator, checkpoints, checkpointName),
    decoder,
    collections: ['orders', 'customers'],
    sendPoison: async () => {
      await emulator.handPost('mallory', '#orders {"id": this is not json');
    },
    mayRepeatAfterRestart: true,
    groupsShareWork: false,
    cleanup: async () => {
      await publisher.close();
      await emulator.close();
    },
  };
});

const waitFor = (what: string, condition: () => boolean): Promise<true> => waitUntil(what, condition, { timeoutMs: 20_000, intervalMs: 20 });

describe('X transport under the emulator faults', () => {
  let emulator: XEmulator;
  let publisher: EventPublisher;
  let source: XSource | undefined;
  const events: ChangeEvent[] = [];
  const messages: InboundMessage[] = [];
  const receivedIds = (): string[] => events.map((e) => e.id);

  async function startConsumer(checkpoints: CheckpointStore = createInMemoryCheckpointStore()): Promise<XSource> {
    const s = sourceFor(emulator, checkpoints);
    source = s;
    await s.start((batch) => {
      for (const message of batch) {
        messages.push(message);
        const decoded = decoder(message);
        if (decoded.ok) events.push(...decoded.events);
      }
      return Promise.resolve();
    });
    return s;
  }

  beforeEach(async () => {
    emulator = await startXEmulator({ port: 0, keepAliveMs: 200, logger });
    publisher = publisherFor(emulator);
    events.length = 0;
    messages.length = 0;
  });

  afterEach(async () => {
    await source?.close();
    source = undefined;
    await publisher.close();
    await emulator.close();
  });

  it('reports ready only while connected, and says why when not', async () => {
    const s = sourceFor(emulator, createInMemoryCheckpointStore());
    source = s;
    await expect(s.check()).rejects.toThrow(/X source is idle/);
    await s.start(() => Promise.resolve());
    await waitFor('the stream', () => s.status().connected);
    await expect(s.check()).resolves.toBeUndefined();
    await s.close();
    await expect(s.check()).rejects.toThrow(/X source is closed/);
  });

  it('keeps receiving after the stream sockets are dropped', async () => {
    await startConsumer();
    const before = anEvent('orders', 'd1', 1n);
    await publisher.publish([before]);
    await waitFor('the first event', () => receivedIds().includes(before.id));
    emulator.faults.dropStreams();
    const after = anEvent('orders', 'd1', 2n);
    await publisher.publish([after]);
    await waitFor('the event after the drop', () => receivedIds().includes(after.id));
  });

  it('reconnects when the stream stalls past the heartbeat timeout and loses nothing posted meanwhile', async () => {
    const s = await startConsumer();
    emulator.faults.stallStreams(3_000);
    const during = anEvent('orders', 's1', 1n);
    await publisher.publish([during]);
    await waitFor('the event posted during the stall', () => receivedIds().includes(during.id));
    expect(s.status().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('reads posts whose multi-byte characters the stream splits across chunks', async () => {
    await startConsumer();
    emulator.faults.splitChunks(true);
    const event = anEvent('orders', 'u1', 1n, { city: '東京', mood: '😀🎉', name: 'Zoë' });
    await publisher.publish([event]);
    await waitFor('the event', () => receivedIds().includes(event.id));
    expect(events.find((e) => e.id === event.id)).toEqual(event);
    expect(messages.some((m) => m.text.includes('\uFFFD'))).toBe(false);
  });

  it('reconnects after an operational disconnect', async () => {
    await startConsumer();
    emulator.faults.operationalDisconnect();
    const event = anEvent('orders', 'od', 1n);
    await publisher.publish([event]);
    await waitFor('the event', () => receivedIds().includes(event.id));
  });

  it('recovers from 429 TooManyConnections on the stream', async () => {
    emulator.faults.fail('stream', 'tooManyConnections', 1);
    await startConsumer();
    const event = anEvent('orders', 'tm', 1n);
    await publisher.publish([event]);
    await waitFor('the event', () => receivedIds().includes(event.id));
  });

  it('a source stopped while posts are made catches up after it restarts', async () => {
    const checkpoints = createInMemoryCheckpointStore();
    const first = await startConsumer(checkpoints);
    const handled = anEvent('orders', 'cu', 1n);
    await publisher.publish([handled]);
    await waitFor('the first event', () => receivedIds().includes(handled.id));
    await first.close();
    const missed = [anEvent('orders', 'cu', 2n), anEvent('customers', 'cc', 1n), anEvent('orders', 'cu', 3n)];
    for (const event of missed) await publisher.publish([event]);
    await startConsumer(checkpoints);
    await waitFor('every event posted while stopped', () => missed.every((e) => receivedIds().includes(e.id)));
    const cu = events.filter((e) => e.key === 'cu').map((e) => e.version);
    expect(cu[cu.length - 1]).toBe(3n);
  });

  it('the publisher retries a 5xx; a duplicate answer counts as posted only when recent search finds the post', async () => {
    await startConsumer();
    emulator.faults.fail('createTweet', 'serverError', 1);
    const retried = anEvent('orders', 'p1', 1n);
    await publisher.publish([retried]);
    await waitFor('the retried event', () => receivedIds().includes(retried.id));

    // The post is made, the answer lost; the retry is X's own duplicate, and search finds the post.
    emulator.faults.fail('createTweet', 'lostResponse', 1);
    const lost = anEvent('orders', 'p2', 1n);
    await publisher.publish([lost]);
    await waitFor('the event whose answer was lost', () => receivedIds().includes(lost.id));
    expect(emulator.recentPosts(100).filter((p) => p.text.includes(lost.id))).toHaveLength(1);

    // "Duplicate" for a post never made: not posted, and the publish fails for the relay to retry.
    emulator.faults.fail('createTweet', 'duplicate', 1);
    const never = anEvent('orders', 'p3', 1n);
    const err: unknown = await publisher.publish([never]).then(() => undefined, (e: unknown) => e);
    expect(isTransportError(err) && err.kind).toBe('retryable');
    expect(emulator.recentPosts(100).some((p) => p.text.includes(never.id))).toBe(false);
  });

  it('the publisher reports a 429 as rateLimited with the reset time', async () => {
    emulator.faults.fail('createTweet', 'rateLimit', 1);
    const err: unknown = await publisher.publish([anEvent('orders', 'r1', 1n)]).then(() => undefined, (e: unknown) => e);
    expect(isTransportError(err) && err.kind).toBe('rateLimited');
    expect(isTransportError(err) && err.resetAt !== undefined && err.resetAt.getTime() > Date.now() - 1_000).toBe(true);
  });
});
