import { describe, expect, it } from 'vitest';
import { configErrorOf } from '../common/config/config-error.fixture.js';
import { loadConfig as loadConsumerConfig } from '../consumer/config.js';
import { loadConfig as loadPublisherConfig } from '../publisher/config.js';
import { xHashtagsOf } from './config.js';

/** Over X the publisher and the consumer need the signing key. */
const hmacKey = 'hmac-key-hmac-key-hmac-key-hmac-key';

const issuesOf = (load: () => unknown): readonly string[] => configErrorOf(load).issues;

describe('TRANSPORT=kafka', () => {
  it('needs only KAFKA_BROKERS, and defaults the topic, the dead-letter topic and the group', () => {
    const env = { TRANSPORT: 'kafka', KAFKA_BROKERS: 'k1:9092, k2:9093' };
    expect(loadPublisherConfig(env).transport).toEqual({
      kind: 'kafka',
      connection: { brokers: ['k1:9092', 'k2:9093'], clientId: 'tweetbus-publisher', ssl: false, sasl: undefined },
      topic: 'tweetbus.events',
      topicSpec: { partitions: 6, replicationFactor: -1 },
    });
    expect(loadConsumerConfig(env).transport).toMatchObject({
      kind: 'kafka',
      connection: { clientId: 'tweetbus-consumer' },
      groupId: 'consumer',
      deadLetterTopic: 'tweetbus.events.dlq',
    });
  });

  it('reads the topic, SASL (which turns TLS on), and the topic spec', () => {
    const config = loadConsumerConfig({
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: 'broker.example:9094',
      KAFKA_TOPIC: 'orders.cdc',
      KAFKA_DLQ_TOPIC: 'orders.cdc.rejected',
      KAFKA_CLIENT_ID: 'reader-1',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'app',
      KAFKA_SASL_PASSWORD: 'pw-SECRET',
      KAFKA_TOPIC_PARTITIONS: '12',
      KAFKA_REPLICATION_FACTOR: '3',
      CHECKPOINT_NAME: 'read-model-eu',
      KAFKA_FETCH_MAX_WAIT_MS: '250',
    });
    expect(config.transport).toEqual({
      kind: 'kafka',
      connection: { brokers: ['broker.example:9094'], clientId: 'reader-1', ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'app', password: 'pw-SECRET' } },
      topic: 'orders.cdc',
      topicSpec: { partitions: 12, replicationFactor: 3 },
      groupId: 'read-model-eu',
      deadLetterTopic: 'orders.cdc.rejected',
      fetchMaxWaitMs: 250,
    });
  });

  it('names KAFKA_BROKERS when it is missing or malformed, and never needs X credentials', () => {
    expect(issuesOf(() => loadPublisherConfig({ TRANSPORT: 'kafka' }))).toEqual([expect.stringMatching(/^KAFKA_BROKERS is required/)]);
    expect(issuesOf(() => loadConsumerConfig({ TRANSPORT: 'kafka', KAFKA_BROKERS: 'http://k1' }))).toEqual([
      expect.stringMatching(/^KAFKA_BROKERS should hold host:port entries/),
    ]);
    expect(issuesOf(() => loadConsumerConfig({ TRANSPORT: 'kafka', KAFKA_BROKERS: 'k:9092', KAFKA_TOPIC: 'bad topic', KAFKA_SASL_MECHANISM: 'plain' }))).toEqual([
      expect.stringMatching(/^KAFKA_SASL_USERNAME is required/),
      expect.stringMatching(/^KAFKA_SASL_PASSWORD is required/),
      expect.stringMatching(/^KAFKA_TOPIC should hold a Kafka topic name/),
    ]);
  });
});

describe('TRANSPORT=redis-streams', () => {
  it('defaults to the local Redis and one stream, with a dead-letter stream beside it', () => {
    expect(loadPublisherConfig({ TRANSPORT: 'redis-streams' }).transport).toEqual({
      kind: 'redis-streams',
      url: 'redis://127.0.0.1:6379',
      stream: 'tweetbus:events',
      maxLen: 1_000_000,
    });
    expect(loadConsumerConfig({ TRANSPORT: 'redis-streams', CHECKPOINT_NAME: 'rm' }).transport).toMatchObject({
      kind: 'redis-streams',
      group: 'rm',
      deadLetterStream: 'tweetbus:events:dead',
      claimIdleMs: 30_000,
    });
  });

  it('names REDIS_URL when it is not a redis:// URL, without repeating it', () => {
    const issues = issuesOf(() => loadConsumerConfig({ TRANSPORT: 'redis-streams', REDIS_URL: 'http://user:hunter2@cache' }));
    expect(issues).toEqual([expect.stringMatching(/^REDIS_URL should hold a redis:\/\/ or rediss:\/\/ URL/)]);
    expect(issues.join(' ')).not.toMatch(/hunter2/);
  });
});

describe('X hashtags', () => {
  it('X_HASHTAG names the one collection\'s hashtag, and is refused with several collections', () => {
    const config = loadConsumerConfig({ X_BEARER_TOKEN: 't', TRUST_HMAC_KEY: hmacKey, X_HASHTAG: '#japacorderevent' });
    if (config.transport.kind !== 'x') throw new Error('expected the X transport');
    expect(config.transport.hashtag).toBe('japacorderevent');
    expect(xHashtagsOf(config.transport, config.collections).hashtags).toEqual(['japacorderevent']);
    expect(issuesOf(() => loadConsumerConfig({ X_BEARER_TOKEN: 't', TRUST_HMAC_KEY: hmacKey, X_HASHTAG: 'tag', COLLECTIONS: 'orders,customers' }))).toEqual([
      expect.stringMatching(/^X_HASHTAG names the hashtag of the one collection/),
    ]);
  });
});

describe("the original demo's variable names", () => {
  it('PUBLISH_TO_KAFKA_YN=Y with KAFKA_SERVER and KAFKA_TOPIC publishes to Kafka, with a notice per old name', () => {
    const config = loadPublisherConfig({ PUBLISH_TO_KAFKA_YN: 'Y', KAFKA_SERVER: '10.0.0.5', KAFKA_TOPIC: 'ordersTopic' });
    expect(config.transport).toMatchObject({ kind: 'kafka', connection: { brokers: ['10.0.0.5:9092'] }, topic: 'ordersTopic' });
    expect(config.notices).toEqual([
      expect.stringMatching(/^PUBLISH_TO_KAFKA_YN is the original demo's name for TRANSPORT/),
      expect.stringMatching(/^KAFKA_SERVER is the original demo's name for KAFKA_BROKERS/),
    ]);
  });

  it('PUBLISH_TO_KAFKA_YN=N with the TWITTER_* credentials and hashtag posts to X', () => {
    const config = loadPublisherConfig({
      PUBLISH_TO_KAFKA_YN: 'N',
      TWITTER_CONSUMER_KEY: 'ck',
      TWITTER_CONSUMER_SECRET: 'cs',
      TWITTER_ACCESS_TOKEN_KEY: 'at',
      TWITTER_ACCESS_TOKEN_SECRET: 'as',
      TWITTER_HASHTAG: '#japacorderevent',
      PORT: '8080',
      TRUST_HMAC_KEY: hmacKey,
    });
    expect(config.port).toBe(8080);
    expect(config.transport).toMatchObject({
      kind: 'x',
      credentials: { appKey: 'ck', appSecret: 'cs', accessToken: 'at', accessSecret: 'as' },
      hashtag: 'japacorderevent',
    });
  });

  it('the new name wins when both are set, and says so', () => {
    const config = loadPublisherConfig({ TRANSPORT: 'redis-streams', PUBLISH_TO_KAFKA_YN: 'Y' });
    expect(config.transport.kind).toBe('redis-streams');
    expect(config.notices).toEqual(['PUBLISH_TO_KAFKA_YN is ignored because TRANSPORT is set']);
  });

  it('MONGODB_HOST and MONGODB_PORT make the consumer write to MongoDB, as the original one did', () => {
    const config = loadConsumerConfig({ X_BEARER_TOKEN: 't', TRUST_HMAC_KEY: hmacKey, MONGODB_HOST: 'mongo', MONGODB_PORT: '27018', MONGODB_DATABASE: 'world', PORT: '9000' });
    expect(config.store).toEqual({ kind: 'mongodb', url: 'mongodb://mongo:27018', database: 'world' });
    expect(config.port).toBe(9000);
  });

  it('names PUBLISH_TO_KAFKA_YN when it is neither Y nor N', () => {
    expect(issuesOf(() => loadPublisherConfig({ PUBLISH_TO_KAFKA_YN: 'maybe' }))).toContainEqual(
      expect.stringMatching(/^PUBLISH_TO_KAFKA_YN should hold Y \(Kafka\) or N \(X\)/),
    );
  });
});
