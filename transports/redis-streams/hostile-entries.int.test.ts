import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.js';
import { propertyRuns } from '../../common/property.fixture.js';
import { waitUntil } from '../../common/wait.fixture.js';
import { createConsumerPipeline } from '../../consumer/pipeline.js';
import { createEmbeddedReadModelStore } from '../../consumer/stores/embedded/embedded-read-model-store.js';
import type { ReadModelStore } from '../../consumer/stores/read-model-store.js';
import { openTrust } from '../../consumer/trust.js';
import { hostileEnvelopeText, hostileString } from '../../events/hostile-input.fixture.js';
import { defaultMaxVersionAheadMs, versionAheadProblem } from '../../events/version-clock.js';
import { createJsonDecoder } from '../../events/json-codec.js';
import type { BatchResult, InboundMessage } from '../transport.js';
import { createRedisStreamsSource, type RedisStreamsSource } from './redis-streams-source.js';

/**
 * Issue 20's guarantee on the Redis Streams source: whatever bytes an entry's fields hold, the entry
 * is either applied or dead-lettered (on the dead-letter stream, with the decoder's reason), nothing
 * stays pending, and a valid entry added after it is still applied. Real Redis, real source, the
 * consumer pipeline over the embedded read model.
 */

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ level: 'silent' });
const decode = createJsonDecoder({ collections: ['orders'] });
const stream = `tweetbus:test:hostile:${String(process.pid)}:${randomUUID()}`;
const deadLetterStream = `${stream}:dead`;
const group = 'hostile';
/** The pipeline's clock. */
const pipelineNow = new Date('2026-03-01T10:00:02.000Z');

/** Bytes that break decoders: NUL, invalid UTF-8, an encoded surrogate (CESU-8), a BOM, a cut-off sequence. */
const nastyBytes = [[0x00], [0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xef, 0xbb, 0xbf], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x22], [0x5c]];

const anyBytes: fc.Arbitrary<Buffer> = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => [b]) }, { weight: 1, arbitrary: fc.constantFrom(...nastyBytes) }), { maxLength: 40 })
  .map((chunks) => Buffer.from(chunks.flat()));

/** An envelope's text with some bytes spliced in: valid JSON around bytes that may not be UTF-8. */
const splicedEnvelope: fc.Arbitrary<Buffer> = fc.tuple(hostileEnvelopeText, fc.nat(), anyBytes).map(([text, at, bytes]) => {
  const utf8 = Buffer.from(text, 'utf8');
  const cut = at % (utf8.length + 1);
  return Buffer.concat([utf8.subarray(0, cut), bytes, utf8.subarray(cut)]);
});

const fieldValue: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: hostileEnvelopeText.map((text) => Buffer.from(text, 'utf8')) },
  { weight: 2, arbitrary: splicedEnvelope },
  { weight: 1, arbitrary: anyBytes },
  { weight: 1, arbitrary: hostileString.map((text) => Buffer.from(text, 'utf8')) },
);

const fieldName: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('event', 'key', 'id', 'type', 'version').map((name) => Buffer.from(name)) },
  { weight: 1, arbitrary: anyBytes.filter((b) => b.length > 0) },
);

/** One entry's field list, never empty (Redis needs a pair), most often with an `event` field. */
const hostileEntry: fc.Arbitrary<Buffer[]> = fc
  .tuple(fc.option(fieldValue, { nil: undefined, freq: 5 }), fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 3 }))
  .filter(([event, others]) => event !== undefined || others.length > 0)
  .map(([event, others]) => [...(event === undefined ? [] : [Buffer.from('event'), event]), ...others.flat()]);

let admin: Redis;
let store: ReadModelStore;
let source: RedisStreamsSource;
const handled = new Map<string, { message: InboundMessage; rejected?: string }>();

beforeAll(async () => {
  admin = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  store = await createEmbeddedReadModelStore({}, { logger: createLogger({ level: 'silent' }) });
  const pipeline = createConsumerPipeline({ decode, trust: openTrust(), store, logger, now: () => pipelineNow, transportName: 'redis-streams' });
  source = createRedisStreamsSource({ url: redisUrl }, { stream, group, consumer: 'hostile-1', deadLetterStream, blockMs: 100, claimIdleMs: 60_000, handlerBackoff: () => 20, reconnectBackoff: () => 50, logger });
  await source.start(async (batch): Promise<BatchResult> => {
    const result = (await pipeline(batch)) ?? { rejected: [] };
    for (const message of batch) handled.set(message.id, { message });
    for (const { message, reason } of result.rejected) handled.set(message.id, { message, rejected: reason });
    return result;
  });
});

afterAll(async () => {
  await source.close();
  await store.close();
  await admin.del(stream, deadLetterStream);
  admin.disconnect();
});

let probes = 0;
/** The dead-letter stream read so far: entry id -> reason. */
const dead = new Map<string | undefined, string | undefined>();
let lastDeadId = '-';

async function readDeadLetters(): Promise<void> {
  const start = lastDeadId === '-' ? '-' : `(${lastDeadId}`;
  for (const [deadId, values] of await admin.xrange(deadLetterStream, start, '+')) {
    dead.set(values[values.indexOf('entryId') + 1], values[values.indexOf('reason') + 1]);
    lastDeadId = deadId;
  }
}

describe('hostile entries on the Redis Streams source (real Redis)', () => {
  it('applies or dead-letters every entry, whatever bytes it holds, and a valid entry behind it is still applied', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileEntry, { minLength: 1, maxLength: 3 }), async (entries) => {
        probes += 1;
        const probeKey = `probe-${String(probes)}`;
        const ids: string[] = [];
        for (const fields of entries) ids.push(String(await admin.xadd(stream, '*', ...fields)));
        const probe = { id: `p-${String(probes)}`, source: 'test', type: 'orders.upserted', collection: 'orders', key: probeKey, version: '1', op: 'upsert', data: { id: probeKey, status: 'OK' }, createdAt: '2026-03-01T10:00:00.000Z' };
        await admin.xadd(stream, '*', 'event', JSON.stringify(probe));

        await waitUntil(`the probe ${probeKey} behind ${String(entries.length)} hostile entries`, () => store.get('orders', probeKey), { timeoutMs: 10_000, intervalMs: 10 });

        // The probe is applied inside the handler; the dead letters and the acknowledgement follow it in
        // one MULTI. Nothing pending means that MULTI ran, so the dead-letter stream is complete.
        await waitUntil('the batch settled (nothing pending)', async () => ((await admin.xpending(stream, group))[0] === 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 10 });
        await readDeadLetters();
        for (const id of ids) {
          const seen = handled.get(id);
          expect(seen, `entry ${id} reached the handler`).toBeDefined();
          if (seen === undefined) continue;
          const decoded = decode(seen.message);
          const tooFar = decoded.ok && decoded.events.some((e) => versionAheadProblem(e.version, pipelineNow, defaultMaxVersionAheadMs) !== undefined);
          if (tooFar) {
            // A version more than an hour past the clock would hold its key: it is refused (issue 22).
            expect(seen.rejected).toMatch(/^version \d+ of \S+ stands for .*, more than 3600000 ms past this consumer's clock/);
            expect(dead.get(id)).toBe(seen.rejected);
          } else if (decoded.ok) {
            expect(seen.rejected, `a decoded entry was refused: ${seen.message.text.slice(0, 200)}`).toBeUndefined();
            expect(dead.has(id)).toBe(false);
            for (const event of decoded.events) {
              const stored = await store.get(event.collection, event.key, { includeDeleted: true });
              expect(stored?.version, `${event.collection}/${event.key}`).toBeGreaterThanOrEqual(event.version);
            }
          } else {
            expect(seen.rejected).toBe(decoded.reason);
            expect(dead.get(id)).toBe(decoded.reason);
          }
        }
        expect(await admin.xpending(stream, group)).toEqual([0, null, null, null]);
      }),
      propertyRuns(60),
    );
  });
});
