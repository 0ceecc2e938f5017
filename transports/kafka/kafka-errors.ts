import { TransportError, type TransportErrorKind } from '../../common/errors.js';

/**
 * What a KafkaJS error says about itself. KafkaJS wraps the broker's error (`KafkaJSNumberOfRetriesExceeded`
 * around a `KafkaJSProtocolError`, `KafkaJSAggregateError` around per-topic errors), so the names and
 * protocol error types are collected along `cause` and `errors`. Read by shape: KafkaJS's error classes
 * are not importable as named exports from ESM.
 */
export interface KafkaErrorFacts {
  /** Error class names, outermost first: `KafkaJSNumberOfRetriesExceeded`, `KafkaJSConnectionError`. */
  readonly names: readonly string[];
  /** Kafka protocol error types: `TOPIC_AUTHORIZATION_FAILED`, `MESSAGE_TOO_LARGE`. */
  readonly types: readonly string[];
}

export function kafkaErrorFacts(err: unknown): KafkaErrorFacts {
  const names: string[] = [];
  const types: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): void => {
    if (typeof value !== 'object' || value === null || seen.has(value) || depth > 8) return;
    seen.add(value);
    const name: unknown = Reflect.get(value, 'name');
    const type: unknown = Reflect.get(value, 'type');
    if (typeof name === 'string') names.push(name);
    if (typeof type === 'string') types.push(type);
    visit(Reflect.get(value, 'cause'), depth + 1);
    const errors: unknown = Reflect.get(value, 'errors');
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
  };
  visit(err, 0);
  return { names, types };
}

const authTypes = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

const invalidTypes = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'INVALID_TOPIC_EXCEPTION']);

/**
 * How the caller should treat a KafkaJS failure. Connection errors, timeouts, exhausted retries and
 * anything unknown are `retryable`: retrying never loses an event, while a wrong `invalid` would
 * dead-letter one.
 */
export function classifyKafkaError(err: unknown): TransportErrorKind {
  const facts = kafkaErrorFacts(err);
  if (facts.names.includes('KafkaJSSASLAuthenticationError') || facts.types.some((t) => authTypes.has(t))) return 'auth';
  if (facts.types.some((t) => invalidTypes.has(t))) return 'invalid';
  return 'retryable';
}

export function isMessageTooLarge(err: unknown): boolean {
  return kafkaErrorFacts(err).types.some((t) => t === 'MESSAGE_TOO_LARGE' || t === 'RECORD_LIST_TOO_LARGE');
}

/** The first protocol error type, for messages: `TOPIC_AUTHORIZATION_FAILED`. */
export function kafkaErrorType(err: unknown): string | undefined {
  return kafkaErrorFacts(err).types[0];
}

const hints: Record<TransportErrorKind, string> = {
  retryable: 'a transient failure, retrying may succeed',
  rateLimited: 'retrying later may succeed',
  auth: 'check the SASL credentials and the ACLs of this principal (Write on the topic, IdempotentWrite on the cluster, Read on the group)',
  invalid: 'the broker refused the records themselves; retrying them will not help',
};

export function toTransportError(err: unknown, what: string, published = 0): TransportError {
  const kind = classifyKafkaError(err);
  const type = kafkaErrorType(err);
  const detail = err instanceof Error ? err.message : String(err);
  return new TransportError(kind, `${what} failed${type === undefined ? '' : ` (${type})`}: ${detail}; ${hints[kind]}`, {
    cause: err,
    published,
  });
}
