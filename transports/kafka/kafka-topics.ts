import { TransportError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { KafkaAdminLike } from './kafka-client.js';
import { classifyKafkaError, kafkaErrorFacts } from './kafka-errors.js';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  /** -1 takes the broker's `default.replication.factor`. */
  readonly replicationFactor: number;
}

/** How the adapters create their topics when they are missing. */
export interface TopicDefaults {
  /** Default 6: room for six consumers in one group. */
  readonly partitions?: number | undefined;
  /** Default -1: the broker's `default.replication.factor` (Kafka 2.4 and later). */
  readonly replicationFactor?: number | undefined;
}

export function topicSpec(topic: string, defaults: TopicDefaults | undefined): TopicSpec {
  return { topic, numPartitions: defaults?.partitions ?? 6, replicationFactor: defaults?.replicationFactor ?? -1 };
}

/** Broker answers that mean the request will never be accepted as it is. */
const refusals = new Set(['POLICY_VIOLATION', 'INVALID_REPLICATION_FACTOR', 'INVALID_PARTITIONS', 'INVALID_CONFIG', 'INVALID_REQUEST', 'INVALID_TOPIC_EXCEPTION', 'UNSUPPORTED_VERSION']);

/** The command an operator runs when this client may not create the topic itself. */
export function createTopicCommand(spec: TopicSpec, bootstrapServers: string): string {
  const replication = spec.replicationFactor > 0 ? ` --replication-factor ${spec.replicationFactor}` : '';
  return `kafka-topics.sh --bootstrap-server ${bootstrapServers} --create --topic ${spec.topic} --partitions ${spec.numPartitions}${replication}`;
}

/**
 * Creates the topics that do not exist yet (existing ones are left as they are, partitions included).
 * Topics are created explicitly because broker auto-creation would give one partition and the
 * broker's defaults. When creation is refused, the error says which command creates them instead.
 */
export async function ensureTopics(
  admin: KafkaAdminLike,
  specs: readonly TopicSpec[],
  logger: Logger,
  bootstrapServers = '<brokers>',
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.numPartitions, replicationFactor: s.replicationFactor })),
    });
  } catch (err) {
    const types = kafkaErrorFacts(err).types;
    if (types.length > 0 && types.every((t) => t === 'TOPIC_ALREADY_EXISTS')) return;
    const kind = classifyKafkaError(err) === 'auth' ? 'auth' : types.some((t) => refusals.has(t)) ? 'invalid' : 'retryable';
    const why = types[0] ?? (err instanceof Error ? err.message : String(err));
    const them = missing.length === 1 ? 'it' : 'them';
    const names = missing.map((s) => `"${s.topic}"`).join(' and ');
    const commands = missing.map((s) => createTopicCommand(s, bootstrapServers)).join('\n  ');
    const problem = `this client ${kind === 'retryable' ? 'could not' : 'may not'} create ${them} (${why})`;
    throw new TransportError(
      kind,
      `Kafka topic${missing.length === 1 ? '' : 's'} ${names} ${missing.length === 1 ? 'does' : 'do'} not exist and ${problem}. Create ${them} with:\n  ${commands}`,
      { cause: err },
    );
  }
  logger.info({ topics: missing.map((s) => ({ topic: s.topic, partitions: s.numPartitions })) }, 'created missing Kafka topics');
}
