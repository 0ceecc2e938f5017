import { randomUUID } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { describe, inject } from 'vitest';
import { createLogger } from '../../common/logger.js';
import { createJsonDecoder } from '../../events/json-codec.js';
import { describeTransportContract, type TransportDeadLetter } from '../transport.contract.js';
import type { EventSource } from '../transport.js';
import { createKafkaClient, type KafkaClientOptions } from './kafka-client.js';
import { askAnyBrokerWhenNoBrokerIsTheController, createTopicsOnMock } from '../../bench/kafka-mock.js';
import { deadLetterHeaders, headerText, messageId } from './kafka-messages.js';
import { createKafkaPublisher } from './kafka-publisher.js';
import { createKafkaSource } from './kafka-source.js';

// A disposable cluster (KAFKA_BROKERS, e.g. localhost:9092) or kcat's mock cluster, from the global
// setup (test/kafka.global-setup.ts); every test gets topics and groups of its own, deleted afterwards.
const cluster = inject('kafka');
const brokers = 'brokers' in cluster ? cluster.brokers : undefined;
const onMock = 'mock' in cluster && cluster.mock;
if (onMock) askAnyBrokerWhenNoBrokerIsTheController();

const logger = createLogger({ level: 'silent' });
const topicSpec = { partitions: 4, replicationFactor: -1 };

/** Reads the dead-letter topic from the start with a group of its own, and tells when it has caught up. */
function deadLetterReader(kafka: ReturnType<typeof createKafkaClient>, topic: string, run: string) {
  const letters: TransportDeadLetter[] = [];
  const next = new Map<number, bigint>();
  const admin = kafka.admin();
  let consumer: Promise<Consumer> | undefined;

  async function open(): Promise<Consumer> {
    const c = kafka.consumer({ groupId: `dlq-reader-${run}`, heartbeatInterval: 1_000, maxWaitTimeInMs: 200 });
    await admin.connect();
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({
      eachMessage: ({ partition, message }) => {
        letters.push({
          messageId: messageId(Number(headerText(message.headers, deadLetterHeaders.partition)), headerText(message.headers, deadLetterHeaders.offset) ?? ''),
          reason: headerText(message.headers, deadLetterHeaders.reason) ?? '',
          text: message.value?.toString('utf8') ?? '',
        });
        next.set(partition, BigInt(message.offset) + 1n);
        return Promise.resolve();
      },
    });
    return c;
  }

  return {
    /** The queue as it holds it now: waits (a while) until everything written so far has been read. */
    async read(): Promise<readonly TransportDeadLetter[]> {
      consumer ??= open();
      await consumer;
      const offsets = await admin.fetchTopicOffsets(topic);
      const deadline = Date.now() + 8_000;
      while (Date.now() < deadline && !offsets.every((o) => (next.get(o.partition) ?? BigInt(o.low)) >= BigInt(o.high))) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return [...letters];
    },
    async close(): Promise<void> {
      if (consumer !== undefined) await (await consumer).disconnect();
      await admin.disconnect();
    },
  };
}

/**
 * On the mock only: a member whose JoinGroup the mock's coordinator answered with INVALID_REQUEST (it
 * does, now and then, while another member rebalances under load) is made again, up to three times.
 * A real cluster never answers a well-formed JoinGroup so, and there the source is used as it is.
 */
function joinAgainOnMock(make: () => EventSource): EventSource {
  if (!onMock) return make();
  let current = make();
  return {
    async start(handler) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await current.start(handler);
          return;
        } catch (err) {
          if (attempt >= 3 || !(err instanceof Error) || !err.message.includes('joining consumer group')) throw err;
          await current.close();
          current = make();
        }
      }
    },
    close: () => current.close(),
  };
}

describe.skipIf(brokers === undefined)(
  'skipped' in cluster ? `Kafka transport contract (skipped: ${cluster.skipped})` : `Kafka transport contract${onMock ? ' (kcat mock cluster)' : ''}`,
  () => {
    describeTransportContract('Kafka (KAFKA_BROKERS)', async () => {
      const run = randomUUID().slice(0, 8);
      const topic = `tweetbus-contract-${run}`;
      const deadLetterTopic = `${topic}.dlq`;
      const connection: KafkaClientOptions = {
        brokers: (brokers ?? '').split(',').map((b) => b.trim()),
        clientId: 'tweetbus-contract',
        logger,
        retries: 3,
      };
      const kafka = createKafkaClient(connection);
      if (onMock) await createTopicsOnMock(kafka, [topic, deadLetterTopic]);
      const publisher = createKafkaPublisher({ kafka: connection }, { topic, logger, topicSpec });
      await publisher.connect();
      const raw = kafka.producer({ allowAutoTopicCreation: false });
      await raw.connect();
      const reader = deadLetterReader(kafka, deadLetterTopic, run);
      const collections = ['orders', 'customers'] as const;

      return {
        publisher,
        source: ({ checkpointName }) =>
          joinAgainOnMock(() => createKafkaSource(
            { kafka: connection },
            {
              topic,
              groupId: `${checkpointName}-${run}`,
              deadLetterTopic,
              logger,
              topicSpec,
              handlerBackoff: () => 50,
              sessionTimeoutMs: 6_000,
              heartbeatIntervalMs: 500,
              rebalanceTimeoutMs: 10_000,
              maxWaitTimeMs: 200,
            },
          )),
        decoder: createJsonDecoder({ collections }),
        collections,
        async sendPoison(at) {
          // The record key of the event that follows: the same partition, so the poison comes first.
          await raw.send({ topic, acks: -1, messages: [{ key: `${at.collection}/${at.key}`, value: '{"id": not json' }] });
        },
        mayRepeatAfterRestart: false,
        deadLetters: () => reader.read(),
        groupsShareWork: true,
        async cleanup() {
          await Promise.allSettled([publisher.close(), raw.disconnect(), reader.close()]);
          const admin = kafka.admin();
          try {
            await admin.connect();
            await admin.deleteTopics({ topics: [topic, deadLetterTopic] });
          } catch {
            // A leftover test topic is harmless; the next run uses new names.
          } finally {
            await admin.disconnect();
          }
        },
      };
    });
  },
);
