import type { Kafka } from 'kafkajs';
import Cluster, { type ClusterInternals } from 'kafkajs/src/cluster/index.js';

/**
 * The test harness's way around the two limits of librdkafka's mock cluster (test/kafka-mock.ts), so
 * the Kafka suites run against it in CI. Neither does anything on a real cluster:
 * - The mock names controller 0, which no broker is, and KafkaJS asks the controller for the
 *   idempotent producer's id. When the controller is not among the brokers, any broker is asked (a
 *   non-transactional producer id may come from any broker, as KafkaJS's own comment there says).
 *   A cluster whose controller is a broker goes through KafkaJS untouched.
 * - The mock has no CreateTopics. On the mock only, a test's topics are made before the adapter
 *   looks for them, by a metadata request that allows auto-creation; the adapter then finds them. On a
 *   real cluster the adapter's own `ensureTopics` makes them, and that is what is tested there.
 */

let installed = false;

/** Installs the controller fallback once for the process. */
export function askAnyBrokerWhenNoBrokerIsTheController(): void {
  if (installed) return;
  installed = true;
  const original = Cluster.prototype.findControllerBroker;
  Cluster.prototype.findControllerBroker = async function (this: ClusterInternals) {
    const metadata = this.brokerPool.metadata;
    const brokers = metadata?.brokers ?? [];
    const [any] = brokers;
    if (any !== undefined && !brokers.some((b) => b.nodeId === metadata?.controllerId)) return this.findBroker({ nodeId: any.nodeId });
    return original.call(this);
  };
}

/** Whether the cluster is one whose controller is no broker: librdkafka's mock. */
export async function isMockCluster(kafka: Kafka): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { brokers, controller } = await admin.describeCluster();
    return !brokers.some((b) => b.nodeId === controller);
  } finally {
    await admin.disconnect();
  }
}

/** Makes `topics` on the mock with a metadata request that allows auto-creation (a subscribing consumer's). */
export async function createTopicsOnMock(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const consumer = kafka.consumer({ groupId: `topic-maker-${String(process.pid)}`, allowAutoTopicCreation: true });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics] });
  } finally {
    await consumer.disconnect();
  }
}
