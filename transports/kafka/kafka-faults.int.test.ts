import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askAnyBrokerWhenNoBrokerIsTheController, createTopicsOnMock } from '../../bench/kafka-mock.js';
import { TransportError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { waitUntil } from '../../common/wait.fixture.js';
import { aChangeEvent } from '../../events/change-event.fixture.js';
import type { ChangeEvent } from '../../events/envelope.js';
import { createJsonDecoder } from '../../events/json-codec.js';
import { createKafkaClient, type KafkaClientOptions } from './kafka-client.js';
import { apiKeys, errorCodes, mockClusterUnavailable, startMockClusterWithFaults, type MockClusterFaults } from './kafka-mock-faults.fixture.js';
import { createKafkaPublisher, type KafkaPublisher } from './kafka-publisher.js';
import { createKafkaSource, type KafkaSource } from './kafka-source.js';

/**
 * Issue 23's fault drills on librdkafka's mock cluster, driven through its C API: request errors a
 * real cluster gives under stress, and a broker that goes down and comes back. Each drill ends with
 * every key of the read side at its last version.
 */

const unavailable = mockClusterUnavailable();
const logger = createLogger({ level: 'silent' });
const decode = createJsonDecoder({ collections: ['orders'] });

describe.skipIf(unavailable !== undefined)(unavailable === undefined ? 'Kafka under injected faults (mock cluster)' : `Kafka under injected faults (skipped: ${unavailable})`, () => {
  let mock: MockClusterFaults;
  let publisher: KafkaPublisher;
  let source: KafkaSource;
  /** Per key: the highest version the handler saw. */
  const latest = new Map<string, bigint>();
  let version = 0n;

  beforeAll(async () => {
    mock = startMockClusterWithFaults(3);
    askAnyBrokerWhenNoBrokerIsTheController();
    const run = randomUUID().slice(0, 8);
    const topic = `tweetbus-faults-${run}`;
    const connection: KafkaClientOptions = { brokers: mock.brokers.split(','), clientId: 'tweetbus-faults', logger, retries: 8 };
    await createTopicsOnMock(createKafkaClient(connection), [topic, `${topic}.dlq`]);
    publisher = createKafkaPublisher({ kafka: connection }, { topic, logger });
    await publisher.connect();
    source = createKafkaSource(
      { kafka: connection },
      {
        topic,
        groupId: `faults-${run}`,
        logger,
        handlerBackoff: () => 50,
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 500,
        rebalanceTimeoutMs: 10_000,
        maxWaitTimeMs: 100,
      },
    );
    await source.start((batch) => {
      for (const message of batch) {
        const decoded = decode(message);
        if (!decoded.ok) continue;
        for (const event of decoded.events) {
          if ((latest.get(event.key) ?? -1n) < event.version) latest.set(event.key, event.version);
        }
      }
      return Promise.resolve({ rejected: [] });
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([source.close(), publisher.close()]);
    mock.close();
  });

  /** Changes of `keys` keys, several per key, versions rising. */
  function changes(prefix: string, keys: number, perKey: number): ChangeEvent[] {
    const events: ChangeEvent[] = [];
    for (let round = 0; round < perKey; round += 1) {
      for (let k = 0; k < keys; k += 1) {
        version += 1n;
        events.push(aChangeEvent({ id: `${prefix}-${String(version)}`, key: `${prefix}-${String(k)}`, version, data: { id: `${prefix}-${String(k)}`, round } }));
      }
    }
    return events;
  }

  /** Publishes as the relay does: after a failure, again from the first event not known to be written. */
  async function publishAll(events: readonly ChangeEvent[]): Promise<number> {
    let rest = events;
    let failures = 0;
    while (rest.length > 0) {
      try {
        await publisher.publish(rest);
        rest = [];
      } catch (err) {
        if (!(err instanceof TransportError) || failures > 50) throw err;
        failures += 1;
        rest = rest.slice(err.published);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return failures;
  }

  async function expectEveryKeyAtItsLastVersion(events: readonly ChangeEvent[]): Promise<void> {
    const last = new Map<string, bigint>();
    for (const e of events) last.set(e.key, e.version);
    await waitUntil('every key at its last version', () => Promise.resolve([...last].every(([key, v]) => latest.get(key) === v) ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
  }

  it('NOT_LEADER_FOR_PARTITION and REQUEST_TIMED_OUT on produce: retried, and every key ends at its last version', async () => {
    mock.pushRequestErrors(apiKeys.produce, [errorCodes.notLeaderForPartition, errorCodes.notLeaderForPartition, errorCodes.requestTimedOut, errorCodes.requestTimedOut]);
    const events = changes('leader', 6, 5);
    await publishAll(events);
    await expectEveryKeyAtItsLastVersion(events);
  });

  it('a broker down while events are published: they wait, and every key ends at its last version once it is back', async () => {
    mock.brokerDown(2);
    const events = changes('down', 6, 5);
    const publishing = publishAll(events);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    mock.brokerUp(2);
    await publishing;
    await expectEveryKeyAtItsLastVersion(events);
  });

  it('REBALANCE_IN_PROGRESS on the offset commit: the batch is read again, and every key ends at its last version', async () => {
    mock.pushRequestErrors(apiKeys.offsetCommit, [errorCodes.rebalanceInProgress, errorCodes.rebalanceInProgress]);
    const events = changes('commit', 6, 5);
    await publishAll(events);
    await expectEveryKeyAtItsLastVersion(events);
    expect(source.status().state).toBe('running');
  });
});
