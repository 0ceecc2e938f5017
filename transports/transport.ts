import type { StallWatch } from '../common/stall-watch.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { InboundMessage } from '../events/message.js';

export type { InboundMessage } from '../events/message.js';

/**
 * The two ports every transport implements (X, Kafka, Redis Streams, in-memory).
 * Core code depends on these and never on a transport's own types.
 */

/**
 * Sends change events.
 *
 * - **Order.** Events are sent in the order given; per-key order holds across calls made one after another.
 * - **Acknowledgement.** `publish` resolves only when the transport has acknowledged every event (X: the
 *   post exists; Kafka: acks=all; Redis: XADD returned). Only then may the caller mark them done.
 * - **At least once.** After a throw, any prefix of the events may have gone out; `TransportError.published`
 *   says how many are known to have. The caller retries the rest with the same events (ids are stable), so
 *   a consumer can see duplicates, which version gating makes harmless.
 * - **Errors.** Throws `TransportError` classified as `retryable`, `rateLimited` (wait until `resetAt`),
 *   `auth`, or `invalid`; or `EventTooLargeError` for an event the transport can never carry.
 * - **Lost after acknowledgement.** A transport that can lose what it acknowledged (a Redis stream
 *   restarted without persistence, or trimmed past a lagging group) says so through `onLoss`, with
 *   the time from which events may be gone; the caller sends them again from its outbox.
 * - **Lifecycle.** `close()` releases only what the adapter created; calling it twice is harmless.
 */
export interface EventPublisher {
  publish(events: readonly ChangeEvent[]): Promise<void>;
  /** Only on transports that can lose acknowledged events: registers the listener told when they did. */
  onLoss?(listener: (loss: TransportLoss) => void): void;
  close(): Promise<void>;
}

/** Events a transport acknowledged and then lost. */
export interface TransportLoss {
  /** In words, for the log. */
  readonly reason: string;
  /**
   * Events published at or after this time may be lost; `undefined` when it cannot be told which, so
   * any event published may be.
   */
  readonly since: Date | undefined;
}

/** A message the handler cannot use (untrusted, malformed, invalid), and why. */
export interface Rejection {
  readonly message: InboundMessage;
  readonly reason: string;
}

/** What a handler reports about a batch it handled. */
export interface BatchResult {
  /** Messages to dead-letter: the source puts them on its dead-letter queue before moving its checkpoint. */
  readonly rejected: readonly Rejection[];
}

/**
 * Handles one batch. It resolves once every message in the batch is durably handled (applied, or
 * rejected in the result); only then does the source dead-letter the rejections and move its
 * checkpoint. A throw means "not handled": the source redelivers the same batch after a backoff and
 * never dead-letters it, because a throw is a transient failure, not bad input. Resolving with
 * nothing means nothing was rejected.
 */
// `void`, not `undefined`: a handler that rejects nothing may be any `async` function that returns nothing.
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type
export type MessageHandler = (batch: readonly InboundMessage[]) => Promise<BatchResult | void>;

/**
 * Receives messages and resumes where it left off.
 *
 * - **Delivery.** At least once. The handler is never called concurrently by one source.
 * - **Order.** Per key, in the order the transport holds them.
 * - **Checkpoint.** Moves only after the handler resolved for the messages it covers. After a
 *   restart the source resumes from it (X: recent search since the last applied post id).
 * - **Lifecycle.** `start` resolves once the source is connected and has begun catching up; it keeps
 *   reconnecting on its own after that. `close()` stops receiving, waits for the handler in flight,
 *   stores the checkpoint and releases what the adapter created. Calling it twice is harmless.
 */
export interface EventSource {
  start(handler: MessageHandler, hooks?: SourceHooks): Promise<void>;
  close(): Promise<void>;
}

/** What the consumer hears from its source besides the batches. */
export interface SourceHooks {
  /**
   * Told of every failed attempt to handle or settle a batch, and of every batch that got through,
   * so that a batch retried too long shows in `/readyz` (CONSUMER_STUCK_AFTER_MS).
   */
  readonly stalls?: StallWatch | undefined;
  /**
   * Told of a batch fetched ahead, before it is delivered, so that the handler's CPU work on it
   * (decoding, validation) runs while the batch before it waits on the store. Only a hint: the batch
   * is delivered as usual afterwards, and a handler without the work done ahead does it then.
   */
  readonly prepare?: ((messages: readonly InboundMessage[]) => void) | undefined;
}

/** Durable storage for a source's position. The consumer's store provides it. */
export interface CheckpointStore {
  load(name: string): Promise<string | undefined>;
  save(name: string, position: string): Promise<void>;
}

/** A readiness probe for `/readyz`: resolves when the dependency answers, throws with the reason otherwise. */
export interface HealthCheck {
  check(): Promise<void>;
}
