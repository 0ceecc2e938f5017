/**
 * One base error for the whole project. `code` is a string-literal union so callers can switch on it;
 * `cause` keeps the original error for logs. Expected outcomes are typed results, not errors.
 */
export type ErrorCode =
  | 'config.invalid'
  | 'event.invalid'
  | 'event.too_large'
  | 'transport.retryable'
  | 'transport.rate_limited'
  | 'transport.auth'
  | 'transport.invalid'
  | 'store.unavailable'
  | 'store.refused'
  | 'store.invalid';

export class TweetbusError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TweetbusError';
    this.code = code;
  }
}

/** Configuration that cannot start a service. Each issue names the variable and what it should hold. */
export class ConfigError extends TweetbusError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super('config.invalid', `Invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** An event that cannot be represented on a transport (for example larger than one post). Never retried. */
export class EventTooLargeError extends TweetbusError {
  readonly eventId: string;
  readonly size: number;
  readonly limit: number;

  constructor(eventId: string, size: number, limit: number) {
    super('event.too_large', `Event ${eventId} needs ${size} weighted characters; a post holds ${limit}`);
    this.name = 'EventTooLargeError';
    this.eventId = eventId;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * How a transport failure should be handled:
 * - `retryable`: network errors, timeouts, 5xx. Retry with backoff; never dead-letter.
 * - `rateLimited`: wait until `resetAt`, then retry. Nothing is dropped.
 * - `auth`: credentials or permissions are wrong. Retrying will not help; an operator must act.
 * - `invalid`: the request itself is wrong (for example too long). Retrying the same input will not help.
 */
export type TransportErrorKind = 'retryable' | 'rateLimited' | 'auth' | 'invalid';

export class TransportError extends TweetbusError {
  readonly kind: TransportErrorKind;
  /** For `rateLimited`: when the quota resets. */
  readonly resetAt: Date | undefined;
  /** How many leading events of the failed `publish` call were acknowledged before the failure. */
  readonly published: number;

  constructor(
    kind: TransportErrorKind,
    message: string,
    options: { cause?: unknown; resetAt?: Date; published?: number } = {},
  ) {
    const code = kind === 'rateLimited' ? 'transport.rate_limited' : `transport.${kind}` as const;
    super(code, message, { cause: options.cause });
    this.name = 'TransportError';
    this.kind = kind;
    this.resetAt = options.resetAt;
    this.published = options.published ?? 0;
  }
}

export function isTransportError(err: unknown): err is TransportError {
  return err instanceof TransportError;
}

/** A store that cannot be reached. Retry with backoff; the checkpoint has not moved. */
export class StoreUnavailableError extends TweetbusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store.unavailable', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The store refused what it was asked to write: some event in the batch holds something the store
 * can never store. Retrying the same batch would fail the same way for ever, so the caller isolates
 * the event and dead-letters it (the schema should have refused it first; this is the last line).
 */
export class StoreRefusedError extends TweetbusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store.refused', message, options);
    this.name = 'StoreRefusedError';
  }
}

/**
 * How a store's failure is handled: `unavailable` is retried (the store could not take any write
 * right now, whatever the event), `refused` is the event's fault. Each store classifies its own
 * driver's errors by their codes, once, in its adapter folder.
 */
export type StoreFailureKind = 'unavailable' | 'refused';

/**
 * Wraps what a store's driver threw as the matching typed error. A `TweetbusError` passes through
 * unchanged (the adapter already said what it is).
 */
export function toStoreError(err: unknown, what: string, classify: (err: unknown) => StoreFailureKind): TweetbusError {
  if (err instanceof TweetbusError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  const code: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, 'code') : undefined;
  const coded = typeof code === 'string' || typeof code === 'number' ? `${detail} (code ${code})` : detail;
  return classify(err) === 'refused'
    ? new StoreRefusedError(`read model refused to ${what}: ${coded}`, { cause: err })
    : new StoreUnavailableError(`read model: could not ${what}`, { cause: err });
}
