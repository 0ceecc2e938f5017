import type { ConsumerConfig, IHeaders, ITopicConfig, Message, ProducerConfig, ProducerRecord, RecordMetadata } from 'kafkajs';
import type {
  KafkaAdminLike,
  KafkaBatchPayload,
  KafkaConsumerLike,
  KafkaCrashEvent,
  KafkaGroupJoinEvent,
  KafkaLike,
  KafkaProducerLike,
  KafkaRecord,
  KafkaRunConfig,
} from './kafka-client.js';

/**
 * A hand-written stand-in for the part of KafkaJS the adapters use. It records every call in one
 * ordered `log` (tests add their own entries, such as `handler`), so a test can assert that the
 * handler ran before the dead-letter send and that before the commit.
 */
export interface FakeKafka extends KafkaLike {
  readonly log: string[];
  readonly topics: Set<string>;
  readonly created: ITopicConfig[];
  readonly sent: ProducerRecord[];
  readonly commits: { readonly topic: string; readonly partition: number; readonly offset: string }[];
  readonly producerConfigs: (ProducerConfig | undefined)[];
  readonly consumers: FakeConsumer[];
  /** Called for every send before it counts; throw to fail it. */
  onSend: ((record: ProducerRecord) => void) | undefined;
  /** Thrown by `createTopics`. */
  createTopicsError: Error | undefined;
  /** Thrown by every `connect`. */
  connectError: Error | undefined;
  /** Emitted as a crash (restart false) instead of a group join when a consumer runs. */
  joinError: Error | undefined;
  /** Partitions the fake reports per topic in metadata and assignments. */
  partitions: number;
  /** Per partition: the high watermark `fetchTopicOffsets` reports (default 0; the low one is 0). */
  readonly highWatermarks: Map<number, bigint>;
  /** Per partition: the group's committed offset `fetchOffsets` reports (default -1, none). */
  readonly groupOffsets: Map<number, bigint>;
}

export interface FakeConsumer extends KafkaConsumerLike {
  readonly config: ConsumerConfig;
  readonly subscription: { topics: string[]; fromBeginning?: boolean } | undefined;
  readonly runConfig: KafkaRunConfig | undefined;
  /** What `isStale()` answers, as after a seek or a lost partition. */
  stale: boolean;
  /** Hands one partition's records to `eachBatch` as KafkaJS does, and resolves when it returns. */
  deliver(partition: number, records: readonly KafkaRecord[], highWatermark?: string): Promise<void>;
}

export function createFakeKafka(): FakeKafka {
  const fake: FakeKafka = {
    log: [],
    topics: new Set(),
    created: [],
    sent: [],
    commits: [],
    producerConfigs: [],
    consumers: [],
    onSend: undefined,
    createTopicsError: undefined,
    connectError: undefined,
    joinError: undefined,
    partitions: 4,
    highWatermarks: new Map(),
    groupOffsets: new Map(),
    producer(config) {
      fake.producerConfigs.push(config);
      return fakeProducer(fake);
    },
    admin() {
      return fakeAdmin(fake);
    },
    consumer(config) {
      const consumer = fakeConsumer(fake, config);
      fake.consumers.push(consumer);
      return consumer;
    },
  };
  return fake;
}

function connectOrFail(fake: FakeKafka, who: string): Promise<void> {
  fake.log.push(`${who}.connect`);
  return fake.connectError === undefined ? Promise.resolve() : Promise.reject(fake.connectError);
}

function fakeProducer(fake: FakeKafka): KafkaProducerLike {
  return {
    connect: () => connectOrFail(fake, 'producer'),
    disconnect() {
      fake.log.push('producer.disconnect');
      return Promise.resolve();
    },
    send(record) {
      fake.log.push(`send:${record.topic}:${record.messages.length}`);
      try {
        fake.onSend?.(record);
      } catch (err) {
        fake.log.push(`send failed:${record.topic}`);
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      fake.sent.push(record);
      const metadata: RecordMetadata[] = [{ topicName: record.topic, partition: 0, errorCode: 0 }];
      return Promise.resolve(metadata);
    },
  };
}

function fakeAdmin(fake: FakeKafka): KafkaAdminLike {
  return {
    connect: () => connectOrFail(fake, 'admin'),
    disconnect() {
      fake.log.push('admin.disconnect');
      return Promise.resolve();
    },
    listTopics() {
      fake.log.push('listTopics');
      return Promise.resolve([...fake.topics]);
    },
    createTopics(options) {
      fake.log.push(`createTopics:${options.topics.map((t) => t.topic).join(',')}`);
      if (fake.createTopicsError !== undefined) return Promise.reject(fake.createTopicsError);
      for (const t of options.topics) {
        fake.created.push(t);
        fake.topics.add(t.topic);
      }
      return Promise.resolve(true);
    },
    fetchTopicMetadata(options) {
      fake.log.push('fetchTopicMetadata');
      const names = (options?.topics ?? [...fake.topics]).filter((t) => fake.topics.has(t));
      return Promise.resolve({
        topics: names.map((name) => ({
          name,
          partitions: Array.from({ length: fake.partitions }, (_, partitionId) => ({
            partitionId,
            partitionErrorCode: 0,
            leader: 1,
            replicas: [1],
            isr: [1],
          })),
        })),
      });
    },
    fetchTopicOffsets(topic) {
      fake.log.push(`fetchTopicOffsets:${topic}`);
      return Promise.resolve(
        Array.from({ length: fake.partitions }, (_, partition) => {
          const high = (fake.highWatermarks.get(partition) ?? 0n).toString();
          return { partition, offset: high, high, low: '0' };
        }),
      );
    },
    fetchOffsets(options) {
      fake.log.push(`fetchOffsets:${options.groupId}`);
      return Promise.resolve(
        options.topics.map((topic) => ({
          topic,
          partitions: Array.from({ length: fake.partitions }, (_, partition) => ({ partition, offset: (fake.groupOffsets.get(partition) ?? -1n).toString() })),
        })),
      );
    },
  };
}

/** One shape that is every event the adapter listens to, so one listener list serves all of them. */
type ConsumerEvent = { readonly payload: KafkaCrashEvent['payload'] & KafkaGroupJoinEvent['payload'] };
const noPayload: ConsumerEvent['payload'] = { error: new Error('none'), groupId: '', restart: false, memberId: '', memberAssignment: {} };

function fakeConsumer(fake: FakeKafka, config: ConsumerConfig): FakeConsumer {
  const listeners = new Map<string, ((event: ConsumerEvent) => void)[]>();
  const emit = (name: string, payload: ConsumerEvent['payload']): void => {
    for (const listener of listeners.get(name) ?? []) listener({ payload });
  };
  let running = false;
  let inFlight: Promise<void> = Promise.resolve();
  let subscription: FakeConsumer['subscription'];
  let runConfig: KafkaRunConfig | undefined;

  function on(eventName: 'consumer.crash', listener: (event: KafkaCrashEvent) => void): () => void;
  function on(eventName: 'consumer.group_join', listener: (event: KafkaGroupJoinEvent) => void): () => void;
  function on(eventName: string, listener: (event: ConsumerEvent) => void): () => void {
    listeners.set(eventName, [...(listeners.get(eventName) ?? []), listener]);
    return () => undefined;
  }

  const consumer: FakeConsumer = {
    config,
    get subscription() {
      return subscription;
    },
    get runConfig() {
      return runConfig;
    },
    stale: false,
    connect: () => connectOrFail(fake, 'consumer'),
    async disconnect() {
      fake.log.push('consumer.disconnect');
      running = false;
      // KafkaJS stops fetching and waits for the batch in flight before it leaves the group.
      await inFlight.catch(() => undefined);
    },
    subscribe(s) {
      fake.log.push(`subscribe:${s.topics.join(',')}`);
      subscription = s;
      return Promise.resolve();
    },
    run(c) {
      fake.log.push('run');
      runConfig = c;
      if (fake.joinError !== undefined) {
        emit('consumer.crash', { ...noPayload, error: fake.joinError, groupId: config.groupId, restart: false });
        return Promise.resolve();
      }
      running = true;
      const topic = subscription?.topics[0] ?? '';
      const partitions = Array.from({ length: fake.partitions }, (_, i) => i);
      emit('consumer.group_join', { ...noPayload, groupId: config.groupId, memberId: `member-${fake.consumers.indexOf(consumer)}`, memberAssignment: { [topic]: partitions } });
      return Promise.resolve();
    },
    on,
    deliver(partition, records, highWatermark) {
      const run = runConfig;
      if (run === undefined) return Promise.reject(new Error('deliver before run'));
      const topic = subscription?.topics[0] ?? '';
      const last = records[records.length - 1];
      const payload: KafkaBatchPayload = {
        batch: { topic, partition, highWatermark: highWatermark ?? String(Number(last?.offset ?? '-1') + 1), messages: records },
        resolveOffset(offset) {
          fake.log.push(`resolve:${partition}:${offset}`);
        },
        heartbeat() {
          fake.log.push('heartbeat');
          return Promise.resolve();
        },
        commitOffsetsIfNecessary(offsets) {
          for (const t of offsets?.topics ?? []) {
            for (const p of t.partitions) {
              fake.log.push(`commit:${p.partition}:${p.offset}`);
              fake.commits.push({ topic: t.topic, partition: p.partition, offset: p.offset });
            }
          }
          return Promise.resolve();
        },
        isRunning: () => running,
        isStale: () => consumer.stale,
      };
      const batch = run.eachBatch(payload);
      inFlight = batch;
      return batch;
    },
  };
  return consumer;
}

/** A consumed record, as KafkaJS hands it over: Buffers for key, value and headers. */
export function aRecord(offset: string | number, value: string | null, key: string | null = null, headers: IHeaders = {}): KafkaRecord {
  const asBuffers: IHeaders = {};
  for (const [name, v] of Object.entries(headers)) {
    if (typeof v === 'string') asBuffers[name] = Buffer.from(v);
    else if (v !== undefined) asBuffers[name] = v;
  }
  return {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    offset: String(offset),
    timestamp: '1767323045678',
    headers: asBuffers,
  };
}

/** What a consumer would receive for a produced message. */
export function consumed(message: Message, offset: string | number): KafkaRecord {
  const text = (v: Buffer | string | null | undefined): string | null => (v === null || v === undefined ? null : v.toString());
  return aRecord(offset, text(message.value), text(message.key), message.headers ?? {});
}
