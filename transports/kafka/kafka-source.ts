import { defaultExponentialBackoff, type Backoff } from '../../common/backoff.js';
import { TransportError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { createSourceRunner, type DeliveryOptions } from '../source-runner.js';
import type { EventSource, HealthCheck, InboundMessage, Rejection } from '../transport.js';
import { kafkaFrom, type KafkaBatchPayload, type KafkaClientOptions, type KafkaLike, type KafkaRecord } from './kafka-client.js';
import { toTransportError } from './kafka-errors.js';
import { deadLetterMessage, toInboundMessage } from './kafka-messages.js';
import { ensureTopics, topicSpec, type TopicDefaults } from './kafka-topics.js';
import { createPartitionWatch } from './partition-watch.js';

export interface KafkaSourceOptions {
  /**
   * A KafkaJS client (or a fake), or the options to build one. Either way the consumer and the
   * dead-letter producer are made here and closed by `close()`.
   */
  readonly kafka: KafkaLike | KafkaClientOptions;
  readonly topic: string;
  /** The consumer group: members share the partitions, and its committed offsets are the checkpoint. */
  readonly groupId: string;
  /** Default `${topic}.dlq`. */
  readonly deadLetterTopic?: string | undefined;
  readonly logger: Logger;
  /** Used only for topics that do not exist yet (both of them). Default 6 partitions, the broker's replication factor. */
  readonly topicSpec?: TopicDefaults | undefined;
  /** Wait before redelivering a batch whose handler threw, and before retrying a failed dead-letter send. */
  readonly handlerBackoff?: Backoff | undefined;
  /** Without a heartbeat this long, the group gives this member's partitions to another. Default 30 s. */
  readonly sessionTimeoutMs?: number | undefined;
  /** Default 3 s. Heartbeats continue while the handler runs. */
  readonly heartbeatIntervalMs?: number | undefined;
  /** Default 60 s. */
  readonly rebalanceTimeoutMs?: number | undefined;
  /**
   * How long a broker may hold a fetch that finds nothing new. Default 5 s (KafkaJS's); a broker
   * answers at once when records arrive, but not every Kafka-protocol peer does (librdkafka's mock).
   */
  readonly maxWaitTimeMs?: number | undefined;
  /**
   * A partition of this member with records waiting and none read for this long makes `check()` fail:
   * a fetch that stalled (after a broker moved, say) reads nothing while the lag grows, and the member
   * would otherwise still say it is ready. Default 60 s.
   */
  readonly partitionStalledAfterMs?: number | undefined;
  /** Bounds one batch: the most bytes fetched per partition per request. Default 1 MiB. */
  readonly maxBytesPerPartition?: number | undefined;
  /** Where a group without committed offsets starts: the oldest record (default) or only new ones. */
  readonly fromBeginning?: boolean | undefined;
  readonly now?: (() => Date) | undefined;
}

export type KafkaSourceState = 'idle' | 'starting' | 'running' | 'restarting' | 'failed' | 'closed';

export interface KafkaSourceStatus {
  readonly state: KafkaSourceState;
  /** Joined the group and not crashed since. */
  readonly connected: boolean;
  readonly groupId: string;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly memberId: string | undefined;
  readonly assignedPartitions: readonly number[];
  /** Per partition: the offset committed last (the next one to read). */
  readonly lastCommitted: Readonly<Record<number, string>>;
  /** Per partition: records behind the high watermark as of the last commit. */
  readonly lag: Readonly<Record<number, number>>;
  readonly deadLettered: number;
  readonly lastError: string | undefined;
  readonly lastBatchAt: Date | undefined;
}

export interface KafkaSource extends EventSource, HealthCheck {
  status(): KafkaSourceStatus;
}

/** The KafkaJS client (or a fake), or the options to build one. */
export type KafkaSourceConnection = Pick<KafkaSourceOptions, 'kafka'>;
/** Everything else the factory takes: the logger (required), names, limits, clocks. */
export type KafkaSourceSettings = Omit<KafkaSourceOptions, 'kafka'>;

/**
 * Consumes one topic as a member of a consumer group and hands each fetched batch (one partition,
 * in offset order) to the handler in one call.
 *
 * Per batch the order is: the handler applies it; its rejections are produced to the dead-letter
 * topic (acks=all) and awaited; only then is the offset after the batch committed. A handler that
 * throws gets the same batch again after a backoff, and nothing is dead-lettered or committed until
 * it resolves. If the member stops or loses the partition meanwhile, the batch stays uncommitted and
 * the next owner reads it again (at least once; version gating makes the repeat harmless).
 *
 * Offsets live in the group, so the `CheckpointStore` of other sources is not used.
 */
export function createKafkaSource(connection: KafkaSourceConnection, settings: KafkaSourceSettings): KafkaSource {
  const options: KafkaSourceOptions = { ...connection, ...settings };
  const { topic, groupId } = options;
  const deadLetterTopic = options.deadLetterTopic ?? `${topic}.dlq`;
  const logger = options.logger.child({ component: 'kafkaSource', topic, groupId });
  const now = options.now ?? (() => new Date());
  const runner = createSourceRunner({ name: 'Kafka source', logger, handlerBackoff: options.handlerBackoff ?? defaultExponentialBackoff({ initialMs: 500, maxMs: 30_000 }) });
  const { isClosed } = runner;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
  const { kafka, bootstrapServers } = kafkaFrom(options.kafka);

  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: heartbeatIntervalMs,
    rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
    maxWaitTimeInMs: options.maxWaitTimeMs ?? 5_000,
    allowAutoTopicCreation: false,
  });
  const deadLetters = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });

  let state: KafkaSourceState = 'idle';
  /** A function, not the variable: event listeners change it while we await. */
  const currentState = (): KafkaSourceState => state;
  let memberId: string | undefined;
  let assignedPartitions: readonly number[] = [];
  const lastCommitted: Record<number, string> = {};
  const lag: Record<number, number> = {};
  let deadLettered = 0;
  let lastError: string | undefined;
  let lastBatchAt: Date | undefined;
  const partitionWatch = createPartitionWatch({ kafka, topic, groupId, stalledAfterMs: options.partitionStalledAfterMs ?? 60_000, now });
  let started = false;
  let starting: Promise<void> | undefined;

  consumer.on('consumer.group_join', (event) => {
    memberId = event.payload.memberId;
    assignedPartitions = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    partitionWatch.assigned(assignedPartitions);
    if (!isClosed()) state = 'running';
    logger.info({ memberId, partitions: assignedPartitions }, 'joined the consumer group');
  });
  consumer.on('consumer.crash', (event) => {
    const { error, restart } = event.payload;
    lastError = error.message;
    if (isClosed()) return;
    state = restart ? 'restarting' : 'failed';
    if (!restart) {
      logger.error({ err: error }, 'the Kafka consumer stopped on an error it does not recover from; restart the consumer once it is fixed');
    }
  });

  /** The batch may still be handled here: not closing, the consumer runs, and no rebalance took it away. */
  const isActive = (payload: KafkaBatchPayload): boolean => !isClosed() && payload.isRunning() && !payload.isStale();

  /** How a batch of this partition is retried: only while it is still ours, heartbeating meanwhile. */
  function deliveryOf(payload: KafkaBatchPayload): DeliveryOptions {
    return {
      active: () => isActive(payload),
      whileHandling: () => keepAlive(payload),
      beforeRetry: () => payload.heartbeat(),
      logFields: { partition: payload.batch.partition },
      onFailure: (err) => {
        lastError = err instanceof Error ? err.message : String(err);
      },
    };
  }

  /** Produces the rejections to the dead-letter topic (acks=all) until it is done or the batch is no longer ours. */
  function deadLetter(payload: KafkaBatchPayload, rejected: readonly Rejection[], records: ReadonlyMap<string, KafkaRecord>): Promise<boolean> {
    const { partition } = payload.batch;
    const at = now();
    const messages = rejected.map((rejection) =>
      deadLetterMessage(rejection, { topic, partition, group: groupId, record: records.get(rejection.message.id) ?? recordFromText(rejection.message), at }),
    );
    return runner.retry(
      `dead-letter ${String(messages.length)} rejected messages to ${deadLetterTopic} (the batch stays uncommitted)`,
      async () => {
        await deadLetters.send({ topic: deadLetterTopic, acks: -1, messages });
        deadLettered += messages.length;
        logger.warn({ count: messages.length, partition, deadLetterTopic, ids: rejected.map((r) => r.message.id) }, 'dead-lettered rejected messages');
      },
      deliveryOf(payload),
    );
  }

  /** Heartbeats while a long handler runs, so the group does not give the partition away meanwhile. */
  function keepAlive(payload: KafkaBatchPayload): () => void {
    const timer = setInterval(() => {
      payload.heartbeat().catch((err: unknown) => {
        logger.debug({ err }, 'heartbeat during the handler failed; the commit will tell');
      });
    }, heartbeatIntervalMs);
    return () => {
      clearInterval(timer);
    };
  }

  async function eachBatch(payload: KafkaBatchPayload): Promise<void> {
    const { partition, messages: records } = payload.batch;
    const last = records[records.length - 1];
    if (last === undefined || !isActive(payload)) return;
    const receivedAt = now();
    lastBatchAt = receivedAt;
    const messages = records.map((record) => toInboundMessage(partition, record, receivedAt));
    const byId = new Map(records.map((record, i) => [messages[i]?.id ?? '', record]));

    const result = await runner.deliver(messages, deliveryOf(payload));
    if (result === undefined) return;
    if (result.rejected.length > 0 && !(await deadLetter(payload, result.rejected, byId))) return;

    const next = (BigInt(last.offset) + 1n).toString();
    payload.resolveOffset(last.offset);
    try {
      await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] });
    } catch (err) {
      // KafkaJS rejoins on a rebalance and retries otherwise; a later commit covers this batch, or
      // the next owner of the partition reads it again.
      lastError = err instanceof Error ? err.message : String(err);
      logger.warn({ err, partition, offset: next }, 'the batch was handled but its commit failed');
      throw err;
    }
    lastCommitted[partition] = next;
    lag[partition] = Math.max(0, Number(BigInt(payload.batch.highWatermark) - BigInt(next)));
    partitionWatch.progressed(partition, next);
  }

  async function connectAndRun(): Promise<void> {
    let stage = `connecting to Kafka at ${bootstrapServers}`;
    try {
      const admin = kafka.admin();
      await admin.connect();
      try {
        stage = 'making sure the topics exist';
        await ensureTopics(admin, [topicSpec(topic, options.topicSpec), topicSpec(deadLetterTopic, options.topicSpec)], logger, bootstrapServers);
      } finally {
        await admin.disconnect().catch((err: unknown) => {
          logger.debug({ err }, 'could not disconnect the admin client');
        });
      }
      stage = `connecting the dead-letter producer to ${bootstrapServers}`;
      await deadLetters.connect();
      stage = `connecting the consumer to ${bootstrapServers}`;
      await consumer.connect();
      stage = `subscribing to topic "${topic}"`;
      await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? true });
      stage = `joining consumer group "${groupId}"`;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // One batch at a time: the handler is never called concurrently by one source.
        partitionsConsumedConcurrently: 1,
        eachBatch,
      });
    } catch (err) {
      throw err instanceof TransportError ? err : toTransportError(err, `Kafka source: ${stage}`);
    }
    // KafkaJS reports a failure to join through the crash event, not through `run`.
    if (state === 'failed') {
      throw new TransportError('retryable', `Kafka source: joining consumer group "${groupId}" failed: ${lastError ?? 'unknown error'}`);
    }
  }

  async function disconnectAll(): Promise<void> {
    const results = await Promise.allSettled([consumer.disconnect(), deadLetters.disconnect()]);
    for (const result of results) {
      if (result.status === 'rejected') logger.warn({ err: result.reason }, 'could not disconnect cleanly from Kafka');
    }
  }

  return {
    /** Resolves once the consumer runs in its group; rejects with a `TransportError` saying what failed. */
    async start(handler, hooks) {
      runner.begin(handler, hooks);
      started = true;
      state = 'starting';
      starting = connectAndRun();
      try {
        await starting;
      } catch (err) {
        state = 'failed';
        lastError = err instanceof Error ? err.message : String(err);
        await disconnectAll();
        throw err;
      }
      if (currentState() === 'starting') state = 'running';
      logger.info({ deadLetterTopic }, 'started');
    },
    status() {
      return {
        state,
        connected: state === 'running' && memberId !== undefined,
        groupId,
        topic,
        deadLetterTopic,
        memberId,
        assignedPartitions,
        lastCommitted: { ...lastCommitted },
        lag: { ...lag },
        deadLettered,
        lastError,
        lastBatchAt,
      };
    },
    /** Ready while the consumer is a member of its group; otherwise the error says what it is doing. */
    async check() {
      if (state !== 'running' || memberId === undefined) {
        throw new Error(`Kafka source is ${state}${lastError === undefined ? '' : ` (last error: ${lastError})`}`);
      }
      const problem = await partitionWatch.problem();
      if (problem !== undefined) throw new Error(problem);
    },
    close() {
      return runner.close(async () => {
        await starting?.catch(() => undefined);
        // Stops fetching, waits for the batch in flight (which sees `closed` and stops retrying), leaves the group.
        if (started) await disconnectAll();
        await partitionWatch.close();
        state = 'closed';
        logger.info({ lastCommitted }, 'closed');
      });
    },
  };
}

/** A rejection for a message that was not in the batch (a handler bug): dead-letter its text. */
function recordFromText(message: InboundMessage): KafkaRecord {
  return { key: null, value: Buffer.from(message.text, 'utf8'), offset: message.id.split(':')[1] ?? '', timestamp: '' };
}
