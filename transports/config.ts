import { hostname } from 'node:os';
import { z } from 'zod';
import { booleanFlag, duration, wholeNumber, type EnvReader } from '../common/config/env-reader.js';
import { isUrlWith } from '../common/config/readers.js';
import { createHashtagMap, type HashtagMap } from './x/post-codec.js';
import type { XUserCredentials } from './x/x-client.js';
import { defaultFirstStartCatchUpMs, recentSearchWindowMs } from './x/catch-up.js';

/** The transports a publisher and a consumer can use; `TRANSPORT` picks one. */
export const transportKinds = ['x', 'kafka', 'redis-streams'] as const;
export type TransportKind = (typeof transportKinds)[number];


interface XCommon {
  readonly kind: 'x';
  readonly apiUrl: string;
  /** PEM file of a CA to trust besides the system's (the emulator's self-signed certificate). */
  readonly caFile: string | undefined;
  readonly hashtagPrefix: string;
  /** The one collection's hashtag, replacing prefix + name (X_HASHTAG, the old TWITTER_HASHTAG). */
  readonly hashtag: string | undefined;
}

export interface KafkaConnectionConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean;
  readonly sasl: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string } | undefined;
}

interface KafkaCommon {
  readonly kind: 'kafka';
  readonly connection: KafkaConnectionConfig;
  readonly topic: string;
  /** Used only when a topic is absent and this client may create it. */
  readonly topicSpec: { readonly partitions: number; readonly replicationFactor: number };
}

interface RedisCommon {
  readonly kind: 'redis-streams';
  readonly url: string;
  readonly stream: string;
}

export type XPublisherTransport = XCommon & { readonly credentials: XUserCredentials };
export type KafkaPublisherTransport = KafkaCommon;
export type RedisPublisherTransport = RedisCommon & { readonly maxLen: number };
export type PublisherTransportConfig = XPublisherTransport | KafkaPublisherTransport | RedisPublisherTransport;

export type XConsumerTransport = XCommon & {
  readonly bearerToken: string;
  readonly checkpointName: string;
  /** X_CATCH_UP_ON_FIRST_START: without a checkpoint, how far back the first catch-up searches (0: from now). */
  readonly firstStartCatchUpMs: number;
};
export type KafkaConsumerTransport = KafkaCommon & {
  readonly groupId: string;
  readonly deadLetterTopic: string;
  /** KAFKA_FETCH_MAX_WAIT_MS: how long a broker may hold a fetch that finds nothing new. */
  readonly fetchMaxWaitMs?: number;
};
export type RedisConsumerTransport = RedisCommon & {
  readonly group: string;
  readonly consumerName: string;
  readonly deadLetterStream: string;
  readonly claimIdleMs: number;
};
export type ConsumerTransportConfig = XConsumerTransport | KafkaConsumerTransport | RedisConsumerTransport;

export const defaultRedisUrl = 'redis://127.0.0.1:6379';

const urlWith = (...protocols: string[]) => z.string().refine((value) => isUrlWith(protocols, value));
const name = (max: number) => z.string().regex(new RegExp(`^[A-Za-z0-9._:-]{1,${String(max)}}$`));
const kafkaTopic = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/);
const hashtagPart = z.string().regex(/^[A-Za-z0-9_]{0,32}$/);

export function readTransportKind(env: EnvReader): TransportKind {
  return env.read('TRANSPORT', z.enum(transportKinds), 'x', `one of ${transportKinds.join(', ')} (the old PUBLISH_TO_KAFKA_YN=Y means kafka)`);
}

/** The publisher's transport: where the relay sends events. Problems are added to `env`'s issues. */
export function readPublisherTransport(env: EnvReader, collections: readonly string[] | undefined): PublisherTransportConfig {
  const kind = readTransportKind(env);
  switch (kind) {
    case 'x':
      return {
        ...readXCommon(env, collections),
        credentials: {
          appKey: env.required('X_API_KEY', "the app's API key (consumer key; the old TWITTER_CONSUMER_KEY)"),
          appSecret: env.required('X_API_SECRET', "the app's API key secret (consumer secret; the old TWITTER_CONSUMER_SECRET)"),
          accessToken: env.required('X_ACCESS_TOKEN', "the posting account's access token (the old TWITTER_ACCESS_TOKEN_KEY)"),
          accessSecret: env.required('X_ACCESS_SECRET', "the posting account's access token secret (the old TWITTER_ACCESS_TOKEN_SECRET)"),
        },
      };
    case 'kafka':
      return readKafkaCommon(env, 'tweetbus-publisher');
    case 'redis-streams':
      return {
        ...readRedisCommon(env),
        maxLen: env.read('REDIS_STREAM_MAXLEN', wholeNumber(1_000, 1_000_000_000), 1_000_000, 'the approximate number of entries the stream keeps, 1000 to 1000000000'),
      };
  }
}

/** The consumer's transport: where events come from, and the group it reads them in. */
export function readConsumerTransport(env: EnvReader, collections: readonly string[] | undefined): ConsumerTransportConfig {
  const kind = readTransportKind(env);
  const checkpointName = env.read('CHECKPOINT_NAME', name(128), 'consumer', 'a name of up to 128 letters, digits and . _ : - (the checkpoint, and the Kafka or Redis consumer group)');
  switch (kind) {
    case 'x': {
      const bearerToken = env.value('X_BEARER_TOKEN');
      if (bearerToken === undefined) {
        env.problem("X_BEARER_TOKEN is required: the X app's app-only bearer token, which X's filtered stream needs (for the emulator: emulator-bearer-token)");
      } else if (/\s/.test(bearerToken)) {
        env.problem('X_BEARER_TOKEN should hold the app-only bearer token, without spaces');
      }
      const firstStartCatchUpMs = env.read(
        'X_CATCH_UP_ON_FIRST_START',
        duration(recentSearchWindowMs),
        defaultFirstStartCatchUpMs,
        'how far back a consumer without a checkpoint searches: 0 (from now), or a duration such as 30m, 1h (default) or 7d (the most recent search reaches)',
      );
      return { ...readXCommon(env, collections), bearerToken: bearerToken ?? '', checkpointName, firstStartCatchUpMs };
    }
    case 'kafka': {
      const common = readKafkaCommon(env, 'tweetbus-consumer');
      const deadLetterTopic = env.read('KAFKA_DLQ_TOPIC', kafkaTopic, `${common.topic}.dlq`, 'a Kafka topic name (letters, digits and . _ -) for messages the consumer rejects');
      const fetchMaxWaitMs = env.read('KAFKA_FETCH_MAX_WAIT_MS', wholeNumber(10, 60_000), 5_000, 'milliseconds a broker may hold a fetch that finds nothing new, 10 to 60000');
      return { ...common, groupId: checkpointName, deadLetterTopic, fetchMaxWaitMs };
    }
    case 'redis-streams': {
      const common = readRedisCommon(env);
      return {
        ...common,
        group: checkpointName,
        consumerName: env.read('REDIS_CONSUMER_NAME', name(128), `${hostname()}-${String(process.pid)}`, 'a name of up to 128 letters, digits and . _ : - unique to this consumer instance'),
        deadLetterStream: env.read('REDIS_DEAD_LETTER_STREAM', name(200), `${common.stream}:dead`, 'a Redis key (letters, digits and . _ : -) for the stream of rejected messages'),
        claimIdleMs: env.read('REDIS_CLAIM_IDLE_MS', wholeNumber(1_000, 86_400_000), 30_000, "milliseconds an entry stays with a silent consumer before another takes it over, 1000 to 86400000"),
      };
    }
  }
}

/** `collections` is undefined when COLLECTIONS itself is wrong (already reported). */
function readXCommon(env: EnvReader, collections: readonly string[] | undefined): XCommon {
  const hashtag = env.read(
    'X_HASHTAG',
    z.string().transform((tag) => tag.replace(/^#/, '')).pipe(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/)).optional(),
    undefined,
    'one hashtag (letters, digits and _, starting with a letter; the leading # is optional)',
  );
  if (hashtag !== undefined && collections !== undefined && collections.length !== 1) {
    env.problem('X_HASHTAG names the hashtag of the one collection; with several COLLECTIONS, use X_HASHTAG_PREFIX (hashtag = prefix + collection)');
  }
  return {
    kind: 'x',
    apiUrl: env.read(
      'X_API_URL',
      urlWith('https:', 'http:').transform((u) => u.replace(/\/+$/, '')),
      'https://api.x.com',
      "an http(s) URL such as https://api.x.com or the emulator's https://127.0.0.1:3443",
    ),
    caFile: env.value('X_CA_FILE'),
    hashtagPrefix: env.read('X_HASHTAG_PREFIX', hashtagPart, '', 'letters, digits and _ only (at most 32), because a hashtag ends at any other character'),
    hashtag,
  };
}

function readKafkaCommon(env: EnvReader, defaultClientId: string): KafkaCommon {
  const brokersText = env.required('KAFKA_BROKERS', 'a comma-separated list of host:port bootstrap brokers when TRANSPORT=kafka (the old KAFKA_SERVER)');
  const brokers = brokersText.split(',').map((b) => b.trim()).filter((b) => b !== '');
  if (brokersText !== '' && !brokers.every((b) => /^[^\s/]+:\d{1,5}$/.test(b))) {
    env.problem('KAFKA_BROKERS should hold host:port entries separated by commas, e.g. kafka-1:9092,kafka-2:9092');
  }
  const mechanism = env.read('KAFKA_SASL_MECHANISM', z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(), undefined, 'plain, scram-sha-256 or scram-sha-512');
  const sasl =
    mechanism === undefined
      ? undefined
      : {
          mechanism,
          username: env.required('KAFKA_SASL_USERNAME', 'the SASL user name when KAFKA_SASL_MECHANISM is set'),
          password: env.required('KAFKA_SASL_PASSWORD', 'the SASL password when KAFKA_SASL_MECHANISM is set'),
        };
  return {
    kind: 'kafka',
    connection: {
      brokers,
      clientId: env.read('KAFKA_CLIENT_ID', name(100), defaultClientId, 'a client id of up to 100 letters, digits and . _ : -'),
      ssl: env.read('KAFKA_SSL', booleanFlag, sasl !== undefined, 'true or false (TLS to the brokers; on by default with SASL)'),
      sasl,
    },
    topic: env.read('KAFKA_TOPIC', kafkaTopic, 'tweetbus.events', 'a Kafka topic name (letters, digits and . _ -, at most 249)'),
    topicSpec: {
      partitions: env.read('KAFKA_TOPIC_PARTITIONS', wholeNumber(1, 10_000), 6, 'the partitions of a topic this client creates, 1 to 10000'),
      replicationFactor: env.read('KAFKA_REPLICATION_FACTOR', wholeNumber(-1, 32), -1, "the replication factor of a topic this client creates (-1: the broker's default)"),
    },
  };
}

function readRedisCommon(env: EnvReader): RedisCommon {
  return {
    kind: 'redis-streams',
    url: env.read('REDIS_URL', urlWith('redis:', 'rediss:'), defaultRedisUrl, 'a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379'),
    stream: env.read('REDIS_STREAM', name(200), 'tweetbus:events', 'a Redis key (letters, digits and . _ : -) for the event stream'),
  };
}

/** The hashtags an X transport uses for these collections: prefix + name, or X_HASHTAG for the one collection. */
export function xHashtagsOf(config: Pick<XCommon, 'hashtagPrefix' | 'hashtag'>, collections: readonly string[]): HashtagMap {
  const [only] = collections;
  return createHashtagMap(collections, config.hashtagPrefix, config.hashtag === undefined || only === undefined ? {} : { [only]: config.hashtag });
}
