import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { EventTooLargeError, TransportError } from '../../common/errors.js';
import { logSink } from '../../common/log-sink.fixture.js';
import { createLogger } from '../../common/logger.js';
import { waitUntil } from '../../common/wait.fixture.js';
import { aChangeEvent } from '../../events/change-event.fixture.js';
import { createJsonDecoder } from '../../events/json-codec.js';
import type { ChangeEvent } from '../../events/envelope.js';
import { createEventSigner } from '../../events/signature.js';
import type { InboundMessage, MessageHandler } from '../transport.js';
import { aRecord, consumed, createFakeKafka, type FakeConsumer, type FakeKafka } from './fake-kafka.fixture.js';
import { createKafkaClient, kafkaFrom, kafkaLogCreator, kafkaLogLevel } from './kafka-client.js';
import { classifyKafkaError } from './kafka-errors.js';
import { deadLetterMessage, headerText, toInboundMessage, toKafkaMessage } from './kafka-messages.js';
import { createKafkaPublisher } from './kafka-publisher.js';
import { createKafkaSource, type KafkaSource } from './kafka-source.js';
import { ensureTopics } from './kafka-topics.js';

const silent = createLogger({ level: 'silent' });
const decoder = createJsonDecoder({ collections: ['orders', 'customers'] });
const at = new Date('2026-01-02T03:04:05.678Z');

function events(count: number, key = 'k'): ChangeEvent[] {
  return Array.from({ length: count }, (_, i) => aChangeEvent({ id: `evt-${i}`, key: `${key}${i % 3}`, version: BigInt(i + 1) }));
}

/** The partition KafkaJS's default partitioner gives a record key, as the publisher assigns it. */
function partitionOf(key: string, partitions = 4): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
  return kafkajs.Partitioners.DefaultPartitioner()({ topic: 'tweetbus.events', partitionMetadata, message: { key, value: null } });
}

function protocolError(type: string, retriable = false): Error {
  return new kafkajs.KafkaJSProtocolError({ type, code: 0, retriable, message: `broker said ${type}` } as unknown as Error);
}

/** Its typings omit the message the constructor takes. */
function saslError(message: string): Error {
  const SaslError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
  return new SaslError(message);
}

/** As KafkaJS's retrier wraps an error it will not retry. */
function nonRetriable(cause: Error): Error {
  const wrapped = new kafkajs.KafkaJSNonRetriableError(cause);
  Object.defineProperty(wrapped, 'cause', { value: cause });
  return wrapped;
}

function retriesExceeded(cause: Error): Error {
  return new kafkajs.KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 1000 });
}

describe('Kafka message mapping', () => {
  it('keys a record by collection/key and names the event in headers', () => {
    const event = aChangeEvent({ id: 'evt-7', collection: 'customers', key: 'c-42', version: 9n, type: 'customers.upserted' });
    const message = toKafkaMessage(event);
    expect(message.key).toBe('customers/c-42');
    expect(message.headers).toEqual({
      'tweetbus-event-id': 'evt-7',
      'tweetbus-event-type': 'customers.upserted',
      'tweetbus-event-version': '9',
      'content-type': 'application/json',
    });
    expect(message.timestamp).toBe(String(Date.parse(event.createdAt)));
  });

  it('a consumed record decodes back to an equal event, versions above 2^53 included', () => {
    const version = 2n ** 53n + 7n;
    const event = aChangeEvent({ version, data: { id: '8172', note: 'Smith & Sons <UK> – naïve' } });
    const message = toKafkaMessage(event);
    expect(headerText(message.headers, 'tweetbus-event-version')).toBe('9007199254740999');
    const inbound = toInboundMessage(2, consumed(message, 41), at);
    expect(inbound.id).toBe('2:41');
    const decoded = decoder(inbound);
    expect(decoded).toEqual({ ok: true, events: [event] });
  });

  it('a record without a value becomes an empty text', () => {
    expect(toInboundMessage(0, aRecord(3, null), at)).toEqual({ id: '0:3', text: '', receivedAt: at });
  });

  it('a dead letter keeps the key, value and headers and says where it came from and why', () => {
    const record = aRecord(17, '{"id": not json', 'orders/1', { 'trace-id': 'abc' });
    const inbound = toInboundMessage(3, record, at);
    const letter = deadLetterMessage({ message: inbound, reason: 'message is not JSON' }, { topic: 'events', partition: 3, group: 'readers', record, at });
    expect(letter.key).toEqual(Buffer.from('orders/1'));
    expect(letter.value).toEqual(Buffer.from('{"id": not json'));
    const h = (name: string) => headerText(letter.headers, name);
    expect([h('trace-id'), h('tweetbus-dlq-reason'), h('tweetbus-dlq-topic'), h('tweetbus-dlq-partition'), h('tweetbus-dlq-offset')]).toEqual([
      'abc',
      'message is not JSON',
      'events',
      '3',
      '17',
    ]);
    expect([h('tweetbus-dlq-group'), h('tweetbus-dlq-at')]).toEqual(['readers', at.toISOString()]);
  });
});

describe('Kafka error classification', () => {
  it('connection failures and retriable broker errors are retryable; SASL and ACL refusals are auth; oversized records are invalid', () => {
    expect(classifyKafkaError(retriesExceeded(new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED')))).toBe('retryable');
    expect(classifyKafkaError(protocolError('NOT_LEADER_FOR_PARTITION', true))).toBe('retryable');
    expect(classifyKafkaError(saslError('SASL PLAIN authentication failed'))).toBe('auth');
    expect(classifyKafkaError(retriesExceeded(protocolError('TOPIC_AUTHORIZATION_FAILED')))).toBe('auth');
    expect(classifyKafkaError(protocolError('CLUSTER_AUTHORIZATION_FAILED'))).toBe('auth');
    expect(classifyKafkaError(nonRetriable(protocolError('MESSAGE_TOO_LARGE')))).toBe('invalid');
    expect(classifyKafkaError(protocolError('INVALID_RECORD'))).toBe('invalid');
  });
});

describe('Kafka publisher', () => {
  function publisherOn(fake: FakeKafka, maxBatch = 2) {
    fake.topics.add('tweetbus.events');
    return createKafkaPublisher({ kafka: fake }, { topic: 'tweetbus.events', logger: silent, maxBatch });
  }

  it('sends with acks=all from an idempotent producer, in chunks of maxBatch, in order', async () => {
    const fake = createFakeKafka();
    const publisher = publisherOn(fake);
    const batch = events(5);
    await publisher.publish(batch);
    expect(fake.producerConfigs).toContainEqual(expect.objectContaining({ idempotent: true, maxInFlightRequests: 1 }));
    expect(fake.sent.every((r) => r.topic === 'tweetbus.events' && r.acks === -1)).toBe(true);
    // One request per partition of each chunk of 2, every record with its key's partition.
    expect(fake.sent.every((r) => new Set(r.messages.map((m) => m.partition)).size === 1)).toBe(true);
    for (const record of fake.sent) {
      for (const m of record.messages) expect(m.partition).toBe(partitionOf(String(m.key)));
    }
    const chunks = [batch.slice(0, 2), batch.slice(2, 4), batch.slice(4)];
    expect(fake.sent).toHaveLength(chunks.reduce((n, chunk) => n + new Set(chunk.map((e) => partitionOf(`orders/${e.key}`))).size, 0));
    const sentIds = fake.sent.flatMap((r) => r.messages.map((m) => headerText(m.headers, 'tweetbus-event-id')));
    expect([...sentIds].sort()).toEqual(batch.map((e) => e.id).sort());
    // Per key, in order.
    for (const key of ['k0', 'k1', 'k2']) {
      const ids = fake.sent.flatMap((r) => r.messages.filter((m) => m.key === `orders/${key}`).map((m) => headerText(m.headers, 'tweetbus-event-id')));
      expect(ids).toEqual(batch.filter((e) => e.key === key).map((e) => e.id));
    }
    await publisher.close();
  });

  it('signs each record\'s envelope when given the key, so a consumer under TRUST=signed tells its records from a foreign producer\'s', async () => {
    const fake = createFakeKafka();
    fake.topics.add('tweetbus.events');
    const signer = createEventSigner('kafka-test-key-kafka-test-key-kafka');
    const publisher = createKafkaPublisher({ kafka: fake }, { topic: 'tweetbus.events', logger: silent, sign: (e) => signer.sign(e) });
    const [event] = events(1);
    await publisher.publish(event === undefined ? [] : [event]);
    const value = fake.sent[0]?.messages[0]?.value;
    const text = typeof value === 'string' ? value : (value?.toString('utf8') ?? '');
    const verifying = createJsonDecoder({ collections: ['orders'], verify: (e, signature) => signer.verify(e, signature) });
    const inbound: InboundMessage = { id: '0:0', text, receivedAt: at };
    expect(verifying(inbound)).toEqual({ ok: true, events: [event], signed: true });
    expect(verifying({ ...inbound, text: text.replace('SHIPPED', 'PAID') })).toMatchObject({ ok: false, reason: expect.stringMatching(/^bad signature/) as unknown });
    await publisher.close();
  });

  it('a connection failure is retryable and counts the events of the chunks already acknowledged', async () => {
    const fake = createFakeKafka();
    const publisher = publisherOn(fake);
    fake.onSend = (record) => {
      if (record.messages.some((m) => m.key === 'orders/k2')) throw retriesExceeded(new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 10.0.0.1:9092'));
    };
    // k0, k1 in the first chunk; k2 opens the second.
    const error = await publisher.publish(events(5)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ kind: 'retryable', published: 2 });
  });

  it('tells the truth about a partly failed send: what each partition wrote, and the written events that lead', async () => {
    const fake = createFakeKafka();
    fake.partitions = 8;
    const publisher = publisherOn(fake, 10);
    const batch = [aChangeEvent({ id: 'a', key: 'a' }), aChangeEvent({ id: 'b', key: 'b' }), aChangeEvent({ id: 'c', key: 'c' })];
    const [pa, pb, pc] = ['a', 'b', 'c'].map((k) => partitionOf(`orders/${k}`, 8));
    expect(new Set([pa, pb, pc]).size).toBe(3);
    fake.onSend = (record) => {
      if (record.messages[0]?.partition === pb) throw nonRetriable(protocolError('MESSAGE_TOO_LARGE'));
    };

    const error = await publisher.publish(batch).catch((err: unknown) => err);

    // a and c were written on their partitions; b was not. Only "a" leads unbroken.
    expect(error).toMatchObject({ kind: 'invalid', published: 1 });
    const message = error instanceof Error ? error.message : '';
    expect(message).toContain(`partition ${String(pa)}: 1 written`);
    expect(message).toContain(`partition ${String(pc)}: 1 written`);
    expect(message).toContain(`partition ${String(pb)}: 1 not written`);
    expect(fake.sent.flatMap((r) => r.messages.map((m) => m.key))).toEqual(expect.arrayContaining(['orders/a', 'orders/c']));
  });

  it('a refused SASL login or topic ACL is an auth error', async () => {
    const fake = createFakeKafka();
    const publisher = publisherOn(fake);
    fake.onSend = () => {
      throw saslError('SASL SCRAM SHA256 authentication failed: invalid credentials');
    };
    await expect(publisher.publish(events(1))).rejects.toMatchObject({ kind: 'auth', published: 0 });
    fake.onSend = () => {
      throw retriesExceeded(protocolError('TOPIC_AUTHORIZATION_FAILED'));
    };
    const error = await publisher.publish(events(1)).catch((err: unknown) => err);
    expect(error).toMatchObject({ kind: 'auth' });
    expect((error as Error).message).toContain('TOPIC_AUTHORIZATION_FAILED');
  });

  it('a record the broker finds too large is EventTooLargeError alone, and invalid within a chunk', async () => {
    const fake = createFakeKafka();
    const publisher = publisherOn(fake);
    fake.onSend = () => {
      throw nonRetriable(protocolError('MESSAGE_TOO_LARGE'));
    };
    await expect(publisher.publish(events(1))).rejects.toMatchObject({ name: 'EventTooLargeError', eventId: 'evt-0' });
    await expect(publisher.publish(events(2))).rejects.toMatchObject({ kind: 'invalid', published: 0 });
  });

  it('an event larger than maxMessageBytes is refused before anything is sent', async () => {
    const fake = createFakeKafka();
    fake.topics.add('t');
    const publisher = createKafkaPublisher({ kafka: fake }, { topic: 't', logger: silent, maxMessageBytes: 2_000 });
    const big = aChangeEvent({ id: 'evt-big', data: { id: '1', blob: 'x'.repeat(3_000) } });
    const error = await publisher.publish([aChangeEvent({ id: 'evt-small' }), big]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EventTooLargeError);
    expect(error).toMatchObject({ eventId: 'evt-big', limit: 2_000 });
    expect(fake.sent).toEqual([]);
  });

  it('creates a missing topic once, with the configured partitions, and close disconnects once', async () => {
    const fake = createFakeKafka();
    const publisher = createKafkaPublisher({ kafka: fake }, { topic: 'new.topic', logger: silent, topicSpec: { partitions: 12, replicationFactor: 3 } });
    await publisher.publish(events(1));
    await publisher.publish(events(1));
    expect(fake.created).toEqual([{ topic: 'new.topic', numPartitions: 12, replicationFactor: 3 }]);
    expect(fake.log.filter((l) => l === 'listTopics')).toHaveLength(1);
    await publisher.close();
    await publisher.close();
    expect(fake.log.filter((l) => l.endsWith('.disconnect'))).toEqual(['producer.disconnect', 'admin.disconnect']);
    await expect(publisher.publish(events(1))).rejects.toThrow(/closed/);
  });

  it('check resolves when the topic has leaders and rejects when it is missing', async () => {
    const fake = createFakeKafka();
    const publisher = publisherOn(fake);
    await publisher.check();
    fake.topics.delete('tweetbus.events');
    await expect(publisher.check()).rejects.toThrow(/does not exist/);
  });
});

describe('ensureTopics', () => {
  it('creates only the missing topics, waiting for their leaders', async () => {
    const fake = createFakeKafka();
    fake.topics.add('events');
    const admin = fake.admin();
    await ensureTopics(admin, [{ topic: 'events', numPartitions: 6, replicationFactor: 3 }, { topic: 'events.dlq', numPartitions: 6, replicationFactor: 3 }], silent);
    expect(fake.created).toEqual([{ topic: 'events.dlq', numPartitions: 6, replicationFactor: 3 }]);
    await ensureTopics(admin, [{ topic: 'events.dlq', numPartitions: 6, replicationFactor: 3 }], silent);
    expect(fake.log.filter((l) => l.startsWith('createTopics'))).toEqual(['createTopics:events.dlq']);
  });

  it('a refused creation says which command creates the topic', async () => {
    const fake = createFakeKafka();
    fake.createTopicsError = new kafkajs.KafkaJSAggregateError('Topic creation errors', [protocolError('TOPIC_AUTHORIZATION_FAILED')]);
    const error = await ensureTopics(fake.admin(), [{ topic: 'tweetbus.events', numPartitions: 6, replicationFactor: 3 }], silent, 'b1:9092,b2:9092').catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ kind: 'auth' });
    expect((error as Error).message).toBe(
      'Kafka topic "tweetbus.events" does not exist and this client may not create it (TOPIC_AUTHORIZATION_FAILED). Create it with:\n' +
        '  kafka-topics.sh --bootstrap-server b1:9092,b2:9092 --create --topic tweetbus.events --partitions 6 --replication-factor 3',
    );
  });

  it('a policy refusal is invalid, and a broker default replication factor is left out of the command', async () => {
    const fake = createFakeKafka();
    fake.createTopicsError = protocolError('POLICY_VIOLATION');
    const error = await ensureTopics(fake.admin(), [{ topic: 'a', numPartitions: 4, replicationFactor: -1 }], silent).catch((err: unknown) => err);
    expect(error).toMatchObject({ kind: 'invalid' });
    expect((error as Error).message).toMatch(/\(POLICY_VIOLATION\)\. Create it with:\n {2}kafka-topics\.sh --bootstrap-server <brokers> --create --topic a --partitions 4$/);
  });
});

interface SourceUnderTest {
  readonly fake: FakeKafka;
  readonly source: KafkaSource;
  readonly consumer: FakeConsumer;
}

async function startedSource(handler: MessageHandler, fake = createFakeKafka()): Promise<SourceUnderTest> {
  const source = createKafkaSource({ kafka: fake }, { topic: 'events', groupId: 'readers', logger: silent, handlerBackoff: () => 1, now: () => at });
  await source.start(handler);
  const consumer = fake.consumers[0];
  if (consumer === undefined) throw new Error('the source made no consumer');
  return { fake, source, consumer };
}

const records = (...values: string[]) => values.map((v, i) => aRecord(10 + i, v, `orders/${i}`));

describe('Kafka source', () => {
  it('starts by creating both topics, subscribing from the beginning and running without auto-commit', async () => {
    const { fake, source, consumer } = await startedSource(() => Promise.resolve());
    expect(fake.created.map((t) => t.topic)).toEqual(['events', 'events.dlq']);
    expect(consumer.config.groupId).toBe('readers');
    expect(consumer.subscription).toEqual({ topics: ['events'], fromBeginning: true });
    expect(consumer.runConfig).toMatchObject({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1 });
    await source.check();
    expect(source.status()).toMatchObject({ state: 'running', connected: true, assignedPartitions: [0, 1, 2, 3] });
    await source.close();
  });

  it('hands the whole batch to one handler call and commits the offset after it only once the handler resolved', async () => {
    const calls: (readonly InboundMessage[])[] = [];
    const { fake, source, consumer } = await startedSource((batch) => {
      calls.push(batch);
      fake.log.push('handler');
      return Promise.resolve();
    });
    fake.log.length = 0;
    await consumer.deliver(1, records('a', 'b', 'c'), '20');
    expect(calls.map((batch) => batch.map((m) => [m.id, m.text]))).toEqual([[['1:10', 'a'], ['1:11', 'b'], ['1:12', 'c']]]);
    expect(fake.log).toEqual(['handler', 'resolve:1:12', 'commit:1:13']);
    expect(fake.commits).toEqual([{ topic: 'events', partition: 1, offset: '13' }]);
    expect(source.status()).toMatchObject({ lastCommitted: { 1: '13' }, lag: { 1: 7 } });
    await source.close();
  });

  it('a handler that throws gets the same batch again; nothing is dead-lettered or committed until it succeeds', async () => {
    const calls: string[][] = [];
    const { fake, source, consumer } = await startedSource((batch) => {
      calls.push(batch.map((m) => m.id));
      fake.log.push('handler');
      if (calls.length < 3) return Promise.reject(new Error('store unavailable'));
      return Promise.resolve({ rejected: [{ message: batch[0] ?? { id: '', text: '', receivedAt: at }, reason: 'bad' }] });
    });
    fake.log.length = 0;
    await consumer.deliver(0, records('x', 'y'));
    expect(calls).toEqual([['0:10', '0:11'], ['0:10', '0:11'], ['0:10', '0:11']]);
    expect(fake.log).toEqual(['handler', 'heartbeat', 'handler', 'heartbeat', 'handler', 'send:events.dlq:1', 'resolve:0:11', 'commit:0:12']);
    await source.close();
  });

  it('rejected messages go to the dead-letter topic with their original key and value before the commit', async () => {
    const { fake, source, consumer } = await startedSource((batch) => {
      fake.log.push('handler');
      const decoded = batch.map((message) => ({ message, result: decoder(message) }));
      return Promise.resolve({ rejected: decoded.flatMap(({ message, result }) => (result.ok ? [] : [{ message, reason: result.reason }])) });
    });
    const good = toKafkaMessage(aChangeEvent({ id: 'evt-good' }));
    fake.log.length = 0;
    await consumer.deliver(2, [consumed(good, 5), aRecord(6, '{"id": not json', 'orders/9', { 'trace-id': 't-1' }), consumed(good, 7)]);

    expect(fake.log).toEqual(['handler', 'send:events.dlq:1', 'resolve:2:7', 'commit:2:8']);
    const [record] = fake.sent;
    expect(record?.topic).toBe('events.dlq');
    expect(record?.acks).toBe(-1);
    const letter = record?.messages[0];
    expect(letter?.key).toEqual(Buffer.from('orders/9'));
    expect(letter?.value).toEqual(Buffer.from('{"id": not json'));
    const h = (name: string) => headerText(letter?.headers, name);
    expect({ topic: h('tweetbus-dlq-topic'), partition: h('tweetbus-dlq-partition'), offset: h('tweetbus-dlq-offset'), group: h('tweetbus-dlq-group') }).toEqual({
      topic: 'events',
      partition: '2',
      offset: '6',
      group: 'readers',
    });
    expect(h('tweetbus-dlq-reason')).toMatch(/^JSON does not parse/);
    expect(h('trace-id')).toBe('t-1');
    expect(source.status().deadLettered).toBe(1);
    await source.close();
  });

  it('a failing dead-letter send holds the commit back until the send succeeds', async () => {
    const fake = createFakeKafka();
    let failures = 2;
    fake.onSend = (record) => {
      if (record.topic === 'events.dlq' && failures > 0) {
        failures -= 1;
        throw retriesExceeded(new kafkajs.KafkaJSConnectionError('Connection error'));
      }
    };
    const { source, consumer } = await startedSource((batch) => {
      fake.log.push('handler');
      return Promise.resolve({ rejected: batch.map((message) => ({ message, reason: 'nope' })) });
    }, fake);
    fake.log.length = 0;
    await consumer.deliver(0, records('p'));
    expect(fake.log).toEqual([
      'handler',
      'send:events.dlq:1',
      'send failed:events.dlq',
      'heartbeat',
      'send:events.dlq:1',
      'send failed:events.dlq',
      'heartbeat',
      'send:events.dlq:1',
      'resolve:0:10',
      'commit:0:11',
    ]);
    await source.close();
  });

  it('a dead-letter topic that stays unreachable means no commit at all, and close still ends the batch', async () => {
    const fake = createFakeKafka();
    fake.onSend = () => {
      throw new kafkajs.KafkaJSConnectionError('Connection error');
    };
    const { source, consumer } = await startedSource((batch) => Promise.resolve({ rejected: batch.map((message) => ({ message, reason: 'nope' })) }), fake);
    const delivered = consumer.deliver(0, records('p'));
    await waitUntil('a few dead-letter attempts', () => fake.log.filter((l) => l === 'send failed:events.dlq').length >= 3);
    await source.close();
    await delivered;
    expect(fake.commits).toEqual([]);
    expect(fake.log.some((l) => l.startsWith('resolve:'))).toBe(false);
  });

  it('close waits for the batch in flight, which stops retrying and commits nothing', async () => {
    let attempts = 0;
    const { fake, source, consumer } = await startedSource(() => {
      attempts += 1;
      return Promise.reject(new Error('down'));
    });
    const delivered = consumer.deliver(0, records('a'));
    await waitUntil('the handler to fail twice', () => attempts >= 2);
    await source.close();
    await source.close();
    await delivered;
    expect(fake.commits).toEqual([]);
    expect(fake.log.filter((l) => l.endsWith('.disconnect'))).toEqual(['admin.disconnect', 'consumer.disconnect', 'producer.disconnect']);
    expect(source.status().state).toBe('closed');
  });

  it('a batch whose partition was taken away is not handled or committed', async () => {
    let called = false;
    const { fake, source, consumer } = await startedSource(() => {
      called = true;
      return Promise.resolve();
    });
    consumer.stale = true;
    await consumer.deliver(0, records('a'));
    expect(called).toBe(false);
    expect(fake.commits).toEqual([]);
    await source.close();
  });

  it('start fails with a clear retryable error when the brokers cannot be reached', async () => {
    const fake = createFakeKafka();
    fake.connectError = retriesExceeded(new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
    const source = createKafkaSource({ kafka: fake }, { topic: 'events', groupId: 'readers', logger: silent });
    const error = await source.start(() => Promise.resolve()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ kind: 'retryable' });
    expect((error as Error).message).toMatch(/connecting to Kafka.*ECONNREFUSED/);
    await expect(source.check()).rejects.toThrow(/failed/);
    await source.close();
  });

  it('is not ready while an assigned partition has records waiting and none was read for a minute, and names it', async () => {
    const fake = createFakeKafka();
    let clock = at.getTime();
    const source = createKafkaSource({ kafka: fake }, { topic: 'events', groupId: 'readers', logger: silent, handlerBackoff: () => 1, now: () => new Date(clock), partitionStalledAfterMs: 60_000 });
    await source.start(() => Promise.resolve());
    const consumer = fake.consumers[0];
    if (consumer === undefined) throw new Error('no consumer');
    // Partition 0 is read up to 12; 1 had a commit at 5 by an earlier member; 2 and 3 have nothing new.
    await consumer.deliver(0, [aRecord(10, 'a', 'orders/a'), aRecord(11, 'b', 'orders/b')]);
    fake.highWatermarks.set(0, 12n);
    fake.highWatermarks.set(1, 9n);
    fake.groupOffsets.set(1, 5n);

    clock += 59_000;
    await source.check();
    expect(fake.log.some((line) => line.startsWith('fetchTopicOffsets'))).toBe(false); // nobody quiet for a minute: no broker asked

    clock += 2_000;
    await expect(source.check()).rejects.toThrow('Kafka source reads nothing from some of its partitions: partition 1 has 4 records waiting and none read for 61 s');

    // Once partition 1 is read, the source is ready again.
    await consumer.deliver(1, [aRecord(5, 'c', 'orders/c'), aRecord(6, 'd', 'orders/d'), aRecord(7, 'e', 'orders/e'), aRecord(8, 'f', 'orders/f')]);
    await source.check();
    await source.close();
  });

  it('start fails when the group cannot be joined', async () => {
    const fake = createFakeKafka();
    fake.joinError = protocolError('GROUP_AUTHORIZATION_FAILED');
    const source = createKafkaSource({ kafka: fake }, { topic: 'events', groupId: 'readers', logger: silent });
    await expect(source.start(() => Promise.resolve())).rejects.toThrow(/joining consumer group "readers"/);
    expect(fake.log).toContain('consumer.disconnect');
  });
});

describe('Kafka client logging', () => {
  it('KafkaJS log lines reach our logger at their own level, extra fields under kafkajs', () => {
    const sink = logSink('debug');
    const write = kafkaLogCreator(sink.logger)();
    write({ namespace: 'Connection', level: kafkajs.logLevel.ERROR, label: 'ERROR', log: { timestamp: 't', message: 'Connection error', broker: 'b1:9092' } });
    write({ namespace: 'Consumer', level: kafkajs.logLevel.INFO, label: 'INFO', log: { timestamp: 't', message: 'Starting', groupId: 'g' } });
    expect(sink.lines.map((l) => [l.level, l.msg, l['namespace'], l['kafkajs']])).toEqual([
      [50, 'Connection error', 'Connection', { broker: 'b1:9092' }],
      [30, 'Starting', 'Consumer', { groupId: 'g' }],
    ]);
    expect(kafkaLogLevel('warn')).toBe(kafkajs.logLevel.WARN);
    expect(kafkaLogLevel('silent')).toBe(kafkajs.logLevel.NOTHING);
  });

  it('a client built here still names its brokers when passed to an adapter', () => {
    const client = createKafkaClient({ brokers: ['b1:9092', 'b2:9092'], clientId: 'test', logger: silent, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(kafkaFrom(client).bootstrapServers).toBe('b1:9092,b2:9092');
    expect(kafkaFrom(createFakeKafka()).bootstrapServers).toBe('<brokers>');
  });
});
