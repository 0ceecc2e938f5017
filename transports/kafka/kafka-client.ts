import {
  Kafka,
  logLevel,
  type AdminConfig,
  type ConsumerConfig,
  type IHeaders,
  type ITopicConfig,
  type ITopicMetadata,
  type LogEntry,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
} from 'kafkajs';
import type { Logger } from '../../common/logger.js';

/**
 * The small part of KafkaJS the adapters use. A KafkaJS `Kafka` satisfies it as it is; unit tests
 * pass a fake. Keeping it narrow is what makes the fake honest.
 */
export interface KafkaLike {
  producer(config?: ProducerConfig): KafkaProducerLike;
  consumer(config: ConsumerConfig): KafkaConsumerLike;
  admin(config?: AdminConfig): KafkaAdminLike;
}

export interface KafkaProducerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: ProducerRecord): Promise<RecordMetadata[]>;
}

export interface KafkaAdminLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  createTopics(options: { waitForLeaders?: boolean; timeout?: number; topics: ITopicConfig[] }): Promise<boolean>;
  fetchTopicMetadata(options?: { topics: string[] }): Promise<{ topics: ITopicMetadata[] }>;
  /** Per partition: the low and high watermarks. */
  fetchTopicOffsets(topic: string): Promise<{ partition: number; offset: string; high: string; low: string }[]>;
  /** A group's committed offsets (`-1`: none). */
  fetchOffsets(options: { groupId: string; topics: string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/** A consumed record, as KafkaJS hands it to `eachBatch`. */
export interface KafkaRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset: string;
  readonly timestamp: string;
  readonly headers?: IHeaders | undefined;
}

/** What `eachBatch` receives, reduced to what the source uses. */
export interface KafkaBatchPayload {
  readonly batch: {
    readonly topic: string;
    readonly partition: number;
    readonly highWatermark: string;
    readonly messages: readonly KafkaRecord[];
  };
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  commitOffsetsIfNecessary(offsets?: { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }): Promise<void>;
  isRunning(): boolean;
  isStale(): boolean;
}

export interface KafkaRunConfig {
  readonly autoCommit: boolean;
  readonly eachBatchAutoResolve: boolean;
  readonly partitionsConsumedConcurrently: number;
  readonly eachBatch: (payload: KafkaBatchPayload) => Promise<void>;
}

export interface KafkaCrashEvent {
  readonly payload: { readonly error: Error; readonly groupId: string; readonly restart: boolean };
}

export interface KafkaGroupJoinEvent {
  readonly payload: { readonly groupId: string; readonly memberId: string; readonly memberAssignment: Record<string, number[]> };
}

export interface KafkaConsumerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[]; fromBeginning?: boolean }): Promise<void>;
  run(config: KafkaRunConfig): Promise<void>;
  on(eventName: 'consumer.crash', listener: (event: KafkaCrashEvent) => void): () => void;
  on(eventName: 'consumer.group_join', listener: (event: KafkaGroupJoinEvent) => void): () => void;
}

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** TLS to the brokers, trusting the system CAs (and `ca` when given). */
  readonly ssl?: boolean | undefined;
  /** PEM of a private CA to trust besides the system ones; implies TLS. */
  readonly ca?: string | undefined;
  readonly sasl?: { readonly mechanism: KafkaSaslMechanism; readonly username: string; readonly password: string } | undefined;
  readonly logger: Logger;
  /** TCP (and TLS) connect timeout per broker. Default 5 s; KafkaJS's 1 s is short for TLS to a cloud cluster. */
  readonly connectionTimeoutMs?: number | undefined;
  /** Per request. Default `defaultKafkaRequestTimeoutMs`. */
  readonly requestTimeoutMs?: number | undefined;
  /** KafkaJS's own retries per operation before it gives up. Default 5 (about 10 s with its backoff). */
  readonly retries?: number | undefined;
}

/**
 * How long a broker may take to answer one request (KafkaJS's 30 s, shortened): under the 25 s a
 * service has to shut down in, so a silent broker cannot hold a shutdown past it.
 */
export const defaultKafkaRequestTimeoutMs = 15_000;

/** The brokers of clients built here, so error messages can name them for a client passed in. */
const brokersOf = new WeakMap<object, readonly string[]>();

/** The adapters' `kafka` option: a client (KafkaJS or a fake), or the options to build one. */
export function kafkaFrom(option: KafkaLike | KafkaClientOptions): { kafka: KafkaLike; bootstrapServers: string } {
  if ('brokers' in option) return { kafka: createKafkaClient(option), bootstrapServers: option.brokers.join(',') };
  return { kafka: option, bootstrapServers: brokersOf.get(option)?.join(',') ?? '<brokers>' };
}

/** Builds a KafkaJS client whose logs go to our logger. It holds no connection; producers and consumers do. */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const ssl = options.ca !== undefined ? { ca: [options.ca] } : options.ssl === true;
  const sasl = options.sasl === undefined ? undefined : saslConfig(options.sasl);
  const kafka = new Kafka({
    brokers: [...options.brokers],
    clientId: options.clientId,
    ssl,
    ...(sasl === undefined ? {} : { sasl }),
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    authenticationTimeout: 10_000,
    requestTimeout: options.requestTimeoutMs ?? defaultKafkaRequestTimeoutMs,
    retry: { initialRetryTime: 300, retries: options.retries ?? 5 },
    logLevel: kafkaLogLevel(options.logger.level),
    logCreator: kafkaLogCreator(options.logger),
  });
  brokersOf.set(kafka, options.brokers);
  return kafka;
}

function saslConfig(sasl: NonNullable<KafkaClientOptions['sasl']>) {
  const credentials = { username: sasl.username, password: sasl.password };
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain' as const, ...credentials };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256' as const, ...credentials };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512' as const, ...credentials };
  }
}

/** Asks KafkaJS for no more detail than our logger would print anyway. */
export function kafkaLogLevel(level: string): logLevel {
  switch (level) {
    case 'silent':
      return logLevel.NOTHING;
    case 'fatal':
    case 'error':
      return logLevel.ERROR;
    case 'warn':
      return logLevel.WARN;
    case 'info':
      return logLevel.INFO;
    default:
      return logLevel.DEBUG;
  }
}

/** Fields of a KafkaJS log line that pino writes itself. */
const repeated = new Set(['message', 'timestamp', 'logger']);

/** Routes KafkaJS's log lines into pino, one child per KafkaJS namespace, extra fields under `kafkajs`. */
export function kafkaLogCreator(logger: Logger): () => (entry: LogEntry) => void {
  const base = logger.child({ component: 'kafkajs' });
  return () => (entry) => {
    const { message } = entry.log;
    const extra = Object.fromEntries(Object.entries(entry.log).filter(([key]) => !repeated.has(key)));
    const fields = { namespace: entry.namespace, kafkajs: extra };
    switch (entry.level) {
      case logLevel.ERROR:
        base.error(fields, message);
        break;
      case logLevel.WARN:
        base.warn(fields, message);
        break;
      case logLevel.INFO:
        base.info(fields, message);
        break;
      case logLevel.DEBUG:
        base.debug(fields, message);
        break;
      case logLevel.NOTHING:
        break;
    }
  };
}
