import { redactUrl, type Logger } from '../common/logger.js';
import { readPemFile } from '../common/process.js';
import { EventTooLargeError } from '../common/errors.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { ChangeEvent } from '../events/envelope.js';
import { createJsonDecoder } from '../events/json-codec.js';
import type { EventSigner } from '../events/signature.js';
import { xHashtagsOf, type ConsumerTransportConfig, type PublisherTransportConfig } from './config.js';
import { createRedisStreamsPublisher } from './redis-streams/redis-streams-publisher.js';
import { createRedisStreamsSource } from './redis-streams/redis-streams-source.js';
import type { CheckpointStore, EventPublisher, EventSource, HealthCheck } from './transport.js';

/** A publisher-side transport, ready to use, and what the composition root reports about it. */
export interface OpenedPublisher {
  readonly publisher: EventPublisher;
  /** `/readyz` for the transport; absent for X, whose readiness the relay's own failures tell. */
  readonly check?: HealthCheck;
  /** Why an event can never travel on this transport (an X post holds 280 weighted characters), checked before the 202. */
  readonly problem?: (event: ChangeEvent) => string | undefined;
  /** Where events go, safe to log (no secrets). */
  readonly describe: Record<string, unknown>;
}

/** A consumer-side transport: the source, how its messages decode, and its readiness. */
export interface OpenedSource {
  readonly source: EventSource & HealthCheck;
  readonly decoder: MessageDecoder;
  /** Names the transport in dead letters and logs. */
  readonly name: string;
  readonly describe: Record<string, unknown>;
}

/**
 * Builds the publisher's transport from its configuration: the one place that knows every adapter.
 * Nothing connects here; the adapters connect on first use, so a dead broker shows in `/readyz` and
 * in the relay's retries rather than as a failed start. X's and Kafka's adapters are loaded only
 * when configured, so a service does not hold the client libraries it does not use (about 10 MiB
 * resident for twitter-api-v2, kafkajs, mongodb and oracledb together).
 *
 * @param signer TRUST_HMAC_KEY's signer: every event carries its signature, as `_h` in a post (the
 *   only way the consumer tells the publisher's posts from hand-typed ones) and as `signature` in a
 *   Kafka or Redis envelope (so a consumer under TRUST=signed refuses a foreign producer's).
 */
export async function openEventPublisher(
  config: PublisherTransportConfig,
  collections: readonly string[],
  logger: Logger,
  signer?: EventSigner,
): Promise<OpenedPublisher> {
  const sign = signer === undefined ? undefined : (event: ChangeEvent) => signer.sign(event);
  switch (config.kind) {
    case 'x': {
      const [{ createXPublisher }, { encodePosts }] = await Promise.all([import('./x/x-publisher.js'), import('./x/post-codec.js')]);
      const hashtags = xHashtagsOf(config, collections);
      const ca = config.caFile === undefined ? undefined : await readPemFile(config.caFile, 'X_CA_FILE');
      const publisher = createXPublisher({ apiUrl: config.apiUrl, ca, credentials: config.credentials }, { hashtags, logger, sign });
      return {
        publisher,
        check: publisher,
        problem: (event) => {
          try {
            encodePosts([event], { hashtags, ...(sign === undefined ? {} : { sign }) });
            return undefined;
          } catch (err) {
            if (err instanceof EventTooLargeError) return err.message;
            throw err;
          }
        },
        describe: { transport: 'x', xApiUrl: redactUrl(config.apiUrl), hashtags: hashtags.hashtags },
      };
    }
    case 'kafka': {
      const [{ createKafkaClient }, { createKafkaPublisher }] = await Promise.all([import('./kafka/kafka-client.js'), import('./kafka/kafka-publisher.js')]);
      const kafka = createKafkaClient({ ...config.connection, logger });
      const publisher = createKafkaPublisher({ kafka }, { topic: config.topic, topicSpec: config.topicSpec, logger, sign });
      return { publisher, check: publisher, describe: { transport: 'kafka', brokers: config.connection.brokers, topic: config.topic } };
    }
    case 'redis-streams': {
      const publisher = createRedisStreamsPublisher({ url: config.url }, { stream: config.stream, maxLen: config.maxLen, logger, sign });
      return { publisher, check: publisher, describe: { transport: 'redis-streams', url: redactUrl(config.url), stream: config.stream, maxLen: config.maxLen } };
    }
  }
}

/**
 * Builds the consumer's source. X keeps its checkpoint in `checkpoints`; Kafka and Redis keep theirs in the broker.
 *
 * @param signer checks the publisher's signatures (TRUST_HMAC_KEY and TRUST_HMAC_PREVIOUS_KEY): an
 *   event that carries one that does not verify is refused, one that verifies is `signed`. On X,
 *   without it no post may carry the publisher's meta.
 */
export async function openEventSource(
  config: ConsumerTransportConfig,
  collections: readonly string[],
  checkpoints: CheckpointStore,
  logger: Logger,
  signer?: EventSigner,
): Promise<OpenedSource> {
  const verify = signer === undefined ? undefined : (event: ChangeEvent, signature: string) => signer.verify(event, signature);
  switch (config.kind) {
    case 'x': {
      const [{ createXSource }, { createPostDecoder }] = await Promise.all([import('./x/x-source.js'), import('./x/post-codec.js')]);
      const hashtags = xHashtagsOf(config, collections);
      const ca = config.caFile === undefined ? undefined : await readPemFile(config.caFile, 'X_CA_FILE');
      const source = createXSource(
        { apiUrl: config.apiUrl, ca, bearerToken: config.bearerToken },
        {
          hashtags,
          checkpoints,
          checkpointName: config.checkpointName,
          firstStartCatchUpMs: config.firstStartCatchUpMs,
          logger,
        },
      );
      return { source, decoder: createPostDecoder({ hashtags, ...(verify === undefined ? {} : { verify }) }), name: 'x', describe: { transport: 'x', xApiUrl: redactUrl(config.apiUrl), hashtags: hashtags.hashtags } };
    }
    case 'kafka': {
      const [{ createKafkaClient }, { createKafkaSource }] = await Promise.all([import('./kafka/kafka-client.js'), import('./kafka/kafka-source.js')]);
      const kafka = createKafkaClient({ ...config.connection, logger });
      const source = createKafkaSource({ kafka }, { topic: config.topic, groupId: config.groupId, deadLetterTopic: config.deadLetterTopic, topicSpec: config.topicSpec, logger, maxWaitTimeMs: config.fetchMaxWaitMs });
      return {
        source,
        decoder: createJsonDecoder({ collections, verify }),
        name: 'kafka',
        describe: { transport: 'kafka', brokers: config.connection.brokers, topic: config.topic, group: config.groupId, deadLetterTopic: config.deadLetterTopic },
      };
    }
    case 'redis-streams': {
      const source = createRedisStreamsSource(
        { url: config.url },
        {
          stream: config.stream,
          group: config.group,
          consumer: config.consumerName,
          deadLetterStream: config.deadLetterStream,
          claimIdleMs: config.claimIdleMs,
          logger,
        },
      );
      return {
        source,
        decoder: createJsonDecoder({ collections, verify }),
        name: 'redis-streams',
        describe: { transport: 'redis-streams', url: redactUrl(config.url), stream: config.stream, group: config.group, consumer: config.consumerName, deadLetterStream: config.deadLetterStream },
      };
    }
  }
}
