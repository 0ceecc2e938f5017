import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../common/errors.js';
import { redactUrl, type Logger } from '../common/logger.js';
import { within } from '../common/timeout.js';
import type { DemoTransport } from '../demo/config.js';
import { demoCollections, emulatorTransportConfigs } from '../demo/demo.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { ConsumerTransportConfig, PublisherTransportConfig } from '../transports/config.js';
import { createInMemoryCheckpointStore } from '../transports/in-memory/checkpoint-store.js';
import { createKafkaClient } from '../transports/kafka/kafka-client.js';
import { openEventPublisher, openEventSource } from '../transports/open.js';
import { deleteStreams } from '../transports/redis-streams/redis-client.js';
import type { InboundMessage } from '../transports/transport.js';
import { startXEmulator, type XEmulatorOptions } from '../x-emulator/server.js';
import type { BenchTransport } from './config.js';
import { askAnyBrokerWhenNoBrokerIsTheController, createTopicsOnMock, kcatAvailable, startKafkaMock } from './kafka-mock.js';
import type { ResultRow } from './results.js';
import { untilHealthy } from './report.js';

/** The Kafka the bench runs on: KAFKA_BROKERS, or kcat's mock cluster, started for the bench and stopped after it. */
export interface BenchKafka {
  readonly brokers: readonly string[];
  readonly mock: boolean;
  readonly stop: () => Promise<void>;
}

export async function openBenchKafka(transport: Extract<BenchTransport, { kind: 'kafka' }>): Promise<BenchKafka> {
  if (transport.brokers !== undefined) {
    return { brokers: transport.brokers.split(',').map((b) => b.trim()), mock: false, stop: () => Promise.resolve() };
  }
  if (!kcatAvailable()) throw new ConfigError(['--transport kafka needs KAFKA_BROKERS (a Kafka cluster) or kcat (apt-get install -y kcat) for its mock cluster']);
  const mock = await startKafkaMock();
  askAnyBrokerWhenNoBrokerIsTheController();
  return { brokers: mock.brokers.split(','), mock: true, stop: () => mock.stop() };
}

/** The demo's transport for one use: over Redis or Kafka, a stream or topic named after `name` alone, so uses never share entries. */
export function benchTransport(transport: BenchTransport, name: string, kafka: BenchKafka | undefined): DemoTransport {
  if (transport.kind === 'x') return { kind: 'x' };
  if (transport.kind === 'kafka') {
    const topic = `tweetbus.bench.${String(process.pid)}.${name}`;
    const common = {
      kind: 'kafka' as const,
      connection: { brokers: kafka?.brokers ?? [], clientId: 'tweetbus-bench', ssl: false, sasl: undefined },
      topic,
      topicSpec: { partitions: 4, replicationFactor: -1 },
    };
    // The mock answers a fetch only when its wait is over, not when records arrive: wait briefly.
    return { kind: 'kafka', publisher: common, consumer: { ...common, groupId: 'bench', deadLetterTopic: `${topic}.dlq`, fetchMaxWaitMs: kafka?.mock === true ? 50 : 5_000 } };
  }
  const stream = `tweetbus:bench:${String(process.pid)}:${name}`;
  return {
    kind: 'redis-streams',
    publisher: { kind: 'redis-streams', url: transport.url, stream, maxLen: 10_000_000 },
    consumer: { kind: 'redis-streams', url: transport.url, stream, group: 'bench', consumerName: 'bench-1', deadLetterStream: `${stream}:dead`, claimIdleMs: 30_000 },
  };
}

/**
 * Makes `transport` ready to carry a run, and returns how to clean up after it: a Redis stream left by
 * an earlier bench of the same pid is deleted (it would be replayed), and on the Kafka mock, which has
 * no CreateTopics, the topics are made by an auto-creating metadata request.
 */
export async function prepareTransport(transport: DemoTransport, kafka: BenchKafka | undefined, logger: Logger): Promise<() => Promise<void>> {
  if (transport.kind === 'redis-streams') {
    const { url, stream, deadLetterStream } = transport.consumer;
    await deleteStreams(url, [stream, deadLetterStream]);
    return () => deleteStreams(url, [stream, deadLetterStream]);
  }
  if (transport.kind === 'kafka' && kafka?.mock === true) {
    const client = createKafkaClient({ brokers: [...kafka.brokers], clientId: 'tweetbus-bench', logger });
    await createTopicsOnMock(client, [transport.consumer.topic, transport.consumer.deadLetterTopic]);
  }
  return () => Promise.resolve();
}

/** The emulator's post quotas raised to `limit`, so a bench measures the software and not X's quota. */
export function raisedPostQuotas(limit: number): NonNullable<XEmulatorOptions['rateLimits']> {
  return {
    createTweet: [
      { scope: 'user', limit, windowMs: 15 * 60_000, header: 'x-rate-limit' },
      { scope: 'user', limit, windowMs: 24 * 60 * 60_000, header: 'x-user-limit-24hour' },
      { scope: 'app', limit, windowMs: 24 * 60 * 60_000, header: 'x-app-limit-24hour' },
    ],
  };
}

/** How a transport is named in the report, URLs without passwords. */
export function describeTransport(transport: BenchTransport, kafka: BenchKafka | undefined): string {
  switch (transport.kind) {
    case 'x':
      return 'x (the emulator, over HTTPS)';
    case 'redis-streams':
      return `redis-streams (${redactUrl(transport.url)}, a stream per run)`;
    case 'kafka':
      return kafka?.mock === true
        ? `kafka on librdkafka's MOCK cluster (kcat, 3 brokers on loopback: not Apache Kafka), a topic per run`
        : `kafka (${kafka?.brokers.join(',') ?? ''}), a topic per run`;
  }
}

/** The name a transport gets in bench/results.md: a mock is never passed off as Kafka. */
export function transportLabel(transport: BenchTransport, kafka: BenchKafka | undefined): ResultRow['transport'] {
  return transport.kind === 'kafka' && kafka?.mock === true ? 'kafka (mock)' : transport.kind;
}

// ---- the transport alone -------------------------------------------------------------------------------

/** What the transport carries by itself, without databases: its raw publish and read rates (events/s). */
export interface TransportCeiling {
  readonly publishPerSecond: number;
  readonly readPerSecond: number;
}

/** The relay's largest batch: the transport alone is handed events as the relay would under a backlog. */
const publishBatch = 1_000;

/**
 * The transport alone. `events` are published 1,000 a call by the publisher `npm start` wires (no
 * signer), and read by the source it wires into a handler that does nothing (no decoding, no store).
 *
 * - Redis Streams and Kafka: the whole backlog is published, then the source drains it. Read is
 *   timed from its first batch to its last, so connecting and joining a group are not counted.
 * - X: the filtered stream only carries posts made while it is connected, so the source is connected
 *   first and reads while the posts are made; read is timed from the first post to the last delivery.
 *   A separate emulator, with the post quota raised, serves it.
 *
 * Ends once as many distinct messages (by transport id) as events were read.
 */
export async function measureTransport(
  transport: BenchTransport,
  events: readonly ChangeEvent[],
  settings: { readonly kafka: BenchKafka | undefined; readonly host: string; readonly timeoutMs: number },
  logger: Logger,
): Promise<TransportCeiling> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    let configs: { publisher: PublisherTransportConfig; consumer: ConsumerTransportConfig };
    if (transport.kind === 'x') {
      const certDir = await mkdtemp(join(tmpdir(), 'tweetbus-bench-x-'));
      cleanups.push(() => rm(certDir, { recursive: true, force: true }));
      const emulator = await startXEmulator({ port: 0, host: settings.host, certDir, logger, rateLimits: raisedPostQuotas(Math.max(1_000_000, events.length * 10)) });
      cleanups.push(() => emulator.close());
      configs = emulatorTransportConfigs(emulator, certDir, '');
    } else {
      const own = benchTransport(transport, `ceiling.${String(Date.now())}`, settings.kafka);
      if (own.kind === 'x') throw new Error('unreachable: a Redis or Kafka transport');
      cleanups.push(await prepareTransport(own, settings.kafka, logger));
      configs = own;
    }
    const outgoing = await openEventPublisher(configs.publisher, demoCollections, logger);
    cleanups.push(() => outgoing.publisher.close());
    const incoming = await openEventSource(configs.consumer, demoCollections, createInMemoryCheckpointStore(), logger);
    cleanups.push(() => incoming.source.close());

    const seen = new Set<string>();
    let firstRead = Number.NaN;
    let lastRead = Number.NaN;
    let firstBatch = 0;
    let done: () => void = () => undefined;
    const allRead = new Promise<void>((resolve) => {
      done = resolve;
    });
    const handler = (batch: readonly InboundMessage[]): Promise<void> => {
      const at = performance.now();
      if (Number.isNaN(firstRead)) {
        firstRead = at;
        firstBatch = batch.length;
      }
      lastRead = at;
      for (const message of batch) seen.add(message.id);
      if (seen.size >= events.length) done();
      return Promise.resolve();
    };
    const publishAll = async (): Promise<{ started: number; ended: number }> => {
      const started = performance.now();
      for (let i = 0; i < events.length; i += publishBatch) await outgoing.publisher.publish(events.slice(i, i + publishBatch));
      return { started, ended: performance.now() };
    };

    // One budget for publishing and reading; the error says how far the reading got.
    const deadline = performance.now() + settings.timeoutMs;
    const timely = <T>(step: Promise<T>): Promise<T> =>
      within(step, Math.max(0, deadline - performance.now()), () => `the ${transport.kind} transport alone (gave up with ${String(seen.size)} of ${String(events.length)} read)`);
    if (transport.kind === 'x') {
      await incoming.source.start(handler);
      await untilHealthy(() => incoming.source.check(), settings.timeoutMs);
      const published = await timely(publishAll());
      await timely(allRead);
      return rates(events.length, published, { from: published.started, to: lastRead, count: events.length });
    }
    const published = await timely(publishAll());
    await incoming.source.start(handler);
    await timely(allRead);
    return rates(events.length, published, { from: firstRead, to: lastRead, count: events.length - firstBatch });
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => {
        logger.warn({ err }, 'the bench could not clean up after the transport alone');
      });
    }
  }
}

function rates(events: number, published: { started: number; ended: number }, read: { from: number; to: number; count: number }): TransportCeiling {
  return {
    publishPerSecond: events / ((published.ended - published.started) / 1000),
    readPerSecond: read.count > 0 && read.to > read.from ? read.count / ((read.to - read.from) / 1000) : Number.NaN,
  };
}
