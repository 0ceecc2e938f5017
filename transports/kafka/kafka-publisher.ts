import kafkajs, { type Message, type PartitionMetadata } from 'kafkajs';
import { EventTooLargeError, TransportError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { within } from '../../common/timeout.js';
import type { ChangeEvent } from '../../events/envelope.js';
import type { EventPublisher, HealthCheck } from '../transport.js';
import { kafkaFrom, type KafkaClientOptions, type KafkaLike } from './kafka-client.js';
import { isMessageTooLarge, toTransportError } from './kafka-errors.js';
import { toKafkaMessage } from './kafka-messages.js';
import { ensureTopics, topicSpec, type TopicDefaults } from './kafka-topics.js';

export interface KafkaPublisherOptions {
  /**
   * A KafkaJS client (or a fake), or the options to build one. Either way the producer and admin
   * connections are made here and closed by `close()`.
   */
  readonly kafka: KafkaLike | KafkaClientOptions;
  readonly topic: string;
  readonly logger: Logger;
  /** Used only when the topic does not exist yet. Default 6 partitions, the broker's replication factor. */
  readonly topicSpec?: TopicDefaults | undefined;
  /** Most records per produce request. Default 500. */
  readonly maxBatch?: number | undefined;
  /**
   * Largest record (key, value and headers) this publisher sends; a larger event is refused with
   * `EventTooLargeError` before anything is sent. Default 1,000,000 bytes, under the broker's default
   * `message.max.bytes` (1 MiB).
   */
  readonly maxMessageBytes?: number | undefined;
  /** Deadline for `check()`. Default 5 s. */
  readonly checkTimeoutMs?: number | undefined;
  /** The publisher's signature of each event (TRUST_HMAC_KEY), written into the envelope as `signature`. */
  readonly sign?: ((event: ChangeEvent) => string) | undefined;
}

export interface KafkaPublisher extends EventPublisher, HealthCheck {
  /** Connects and makes sure the topic exists. `publish` does it on first use; call it to fail fast at startup. */
  connect(): Promise<void>;
}

/** An event larger than a Kafka record may be. The base class words its message for X posts. */
export class KafkaEventTooLargeError extends EventTooLargeError {
  constructor(eventId: string, size: number, limit: number) {
    super(eventId, size, limit);
    this.message = `Event ${eventId} is ${size} bytes as a Kafka record; at most ${limit} are accepted`;
  }
}

/** The KafkaJS client (or a fake), or the options to build one. */
export type KafkaPublisherConnection = Pick<KafkaPublisherOptions, 'kafka'>;
/** Everything else the factory takes: the logger (required), names, limits, clocks. */
export type KafkaPublisherSettings = Omit<KafkaPublisherOptions, 'kafka'>;

/**
 * Publishes events to one topic, keyed by aggregate (`collection/key`) so the default partitioner
 * keeps every change of one row in one partition, in order.
 *
 * The producer is idempotent with one request in flight: a retried request cannot reorder or
 * duplicate records within a partition. Each chunk of `maxBatch` records is one `send` with
 * acks=all; a failed call reports the events of the chunks already acknowledged as `published`.
 */
export function createKafkaPublisher(connection: KafkaPublisherConnection, settings: KafkaPublisherSettings): KafkaPublisher {
  const options: KafkaPublisherOptions = { ...connection, ...settings };
  const { topic } = options;
  const logger = options.logger.child({ component: 'kafkaPublisher', topic });
  const { kafka, bootstrapServers } = kafkaFrom(options.kafka);
  const maxBatch = Math.max(1, options.maxBatch ?? 500);
  const maxMessageBytes = options.maxMessageBytes ?? 1_000_000;
  const checkTimeoutMs = options.checkTimeoutMs ?? 5_000;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const admin = kafka.admin();
  let adminUsed = false;
  let producerUsed = false;
  let adminReady: Promise<void> | undefined;
  let ready: Promise<void> | undefined;
  let closed = false;
  let closePromise: Promise<void> | undefined;

  function connectAdmin(): Promise<void> {
    adminUsed = true;
    adminReady ??= admin.connect().catch((err: unknown) => {
      adminReady = undefined;
      throw err;
    });
    return adminReady;
  }

  function connect(): Promise<void> {
    if (closed) return Promise.reject(new Error('the Kafka publisher is closed'));
    ready ??= (async () => {
      try {
        await connectAdmin();
        await ensureTopics(admin, [topicSpec(topic, options.topicSpec)], logger, bootstrapServers);
        producerUsed = true;
        await producer.connect();
        logger.info('connected');
      } catch (err) {
        ready = undefined;
        throw err instanceof TransportError ? err : toTransportError(err, `connecting to Kafka at ${bootstrapServers}`);
      }
    })();
    return ready;
  }

  /** Partition ids and leaders of the topic: read again after a failed send, and after 5 minutes (KafkaJS's metadata age). */
  let partitions: Promise<PartitionMetadata[]> | undefined;
  let partitionsReadAt = 0;
  const assign = kafkajs.Partitioners.DefaultPartitioner();

  /** Where each record goes: KafkaJS's default partitioner (murmur2 of the key, as Java clients). */
  async function partitioner(): Promise<(message: Message) => number> {
    if (partitions === undefined || Date.now() - partitionsReadAt > 300_000) {
      partitionsReadAt = Date.now();
      partitions = connectAdmin()
        .then(() => admin.fetchTopicMetadata({ topics: [topic] }))
        .then((metadata) => metadata.topics.find((t) => t.name === topic)?.partitions ?? [])
        .catch((err: unknown) => {
          partitions = undefined;
          throw toTransportError(err, `reading the partitions of Kafka topic "${topic}"`);
        });
    }
    const partitionMetadata = await partitions;
    if (partitionMetadata.length === 0) throw new TransportError('retryable', `Kafka topic "${topic}" has no partitions in the metadata`);
    return (message) => assign({ topic, partitionMetadata, message });
  }

  /**
   * Sends one request per partition, at once, and says exactly which were written. KafkaJS would
   * send one request per leader broker anyway, and those are not atomic together: telling them apart
   * is the only way to know what a partly failed send wrote. Per key, order holds: one key, one
   * partition, one request.
   */
  async function sendByPartition(chunk: readonly Message[], partitionOf: (message: Message) => number): Promise<PartialFailure | undefined> {
    const byPartition = new Map<number, number[]>();
    for (const [i, message] of chunk.entries()) {
      const partition = partitionOf(message);
      const indexes = byPartition.get(partition);
      if (indexes === undefined) byPartition.set(partition, [i]);
      else indexes.push(i);
    }
    const entries = [...byPartition.entries()];
    const results = await Promise.allSettled(
      entries.map(([partition, indexes]) => producer.send({ topic, acks: -1, messages: indexes.flatMap((i) => { const message = chunk[i]; return message === undefined ? [] : [{ ...message, partition }]; }) })),
    );
    const written: { partition: number; events: number }[] = [];
    const failed: { partition: number; events: number; error: string }[] = [];
    const writtenIndexes = new Set<number>();
    let firstErr: unknown;
    for (const [n, result] of results.entries()) {
      const [partition, indexes] = entries[n] ?? [0, []];
      if (result.status === 'fulfilled') {
        written.push({ partition, events: indexes.length });
        for (const i of indexes) writtenIndexes.add(i);
      } else {
        firstErr ??= result.reason;
        failed.push({ partition, events: indexes.length, error: result.reason instanceof Error ? result.reason.message : String(result.reason) });
      }
    }
    if (failed.length === 0) return undefined;
    let writtenPrefix = 0;
    while (writtenIndexes.has(writtenPrefix)) writtenPrefix += 1;
    const report = [
      ...written.map((w) => `partition ${String(w.partition)}: ${String(w.events)} written`),
      ...failed.map((f) => `partition ${String(f.partition)}: ${String(f.events)} not written`),
    ].join(', ');
    return { err: firstErr, written, failed, writtenPrefix, report };
  }

  return {
    connect,
    async publish(events) {
      if (closed) throw new Error('the Kafka publisher is closed');
      if (events.length === 0) return;
      const messages = events.map((event) => toKafkaMessage(event, options.sign));
      const sizes = messages.map(recordBytes);
      for (const [i, size] of sizes.entries()) {
        const event = events[i];
        if (size > maxMessageBytes && event !== undefined) throw new KafkaEventTooLargeError(event.id, size, maxMessageBytes);
      }
      await connect();
      let published = 0;
      const partitionOf = await partitioner();
      while (published < messages.length) {
        const chunk = messages.slice(published, published + maxBatch);
        const failure = await sendByPartition(chunk, partitionOf);
        if (failure !== undefined) {
          partitions = undefined; // a leader moved, or the topic grew: read the metadata again
          const event = events[published];
          if (chunk.length === 1 && event !== undefined && isMessageTooLarge(failure.err)) {
            // The broker's limit is below ours; only this one event can never go.
            throw new KafkaEventTooLargeError(event.id, sizes[published] ?? 0, maxMessageBytes);
          }
          const error = toTransportError(failure.err, `publishing ${chunk.length} events to Kafka topic "${topic}" (${failure.report})`, published + failure.writtenPrefix);
          logger.warn({ written: failure.written, failed: failure.failed, published: error.published }, 'a send to Kafka partly failed');
          throw error;
        }
        published += chunk.length;
        logger.debug({ count: chunk.length, firstEventId: events[published - chunk.length]?.id }, 'published');
      }
    },
    /** Ready when the brokers answer a metadata request for the topic and every partition has a leader. */
    async check() {
      if (closed) throw new Error('the Kafka publisher is closed');
      const what = `reading Kafka metadata for topic "${topic}" from ${bootstrapServers}`;
      const metadata = await within(
        connectAdmin().then(() => admin.fetchTopicMetadata({ topics: [topic] })),
        checkTimeoutMs,
        what,
      ).catch((err: unknown) => {
        throw toTransportError(err, what);
      });
      const found = metadata.topics.find((t) => t.name === topic);
      if (found === undefined) throw new Error(`Kafka topic "${topic}" does not exist`);
      const leaderless = found.partitions.filter((p) => p.leader < 0).map((p) => p.partitionId);
      if (leaderless.length > 0) throw new Error(`Kafka topic "${topic}" has partitions without a leader: ${leaderless.join(', ')}`);
    },
    close() {
      closePromise ??= (async () => {
        closed = true;
        const results = await Promise.allSettled([
          producerUsed ? producer.disconnect() : Promise.resolve(),
          adminUsed ? admin.disconnect() : Promise.resolve(),
        ]);
        for (const result of results) {
          if (result.status === 'rejected') logger.warn({ err: result.reason }, 'could not disconnect cleanly from Kafka');
        }
        logger.info('closed');
      })();
      return closePromise;
    },
  };
}

/** What a record weighs on the wire, near enough to compare with the broker's limit. */
function recordBytes(message: ReturnType<typeof toKafkaMessage>): number {
  let size = byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    size += Buffer.byteLength(name);
    for (const v of Array.isArray(value) ? value : [value]) size += byteLength(v);
  }
  return size + 64;
}

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

/** What a partly failed send wrote, per partition. */
interface PartialFailure {
  readonly err: unknown;
  readonly written: readonly { readonly partition: number; readonly events: number }[];
  readonly failed: readonly { readonly partition: number; readonly events: number; readonly error: string }[];
  /** How many leading events of the chunk are written (the rest may be, on partitions that took them). */
  readonly writtenPrefix: number;
  /** `partition 1: 2 written, partition 3: 1 not written`. */
  readonly report: string;
}

