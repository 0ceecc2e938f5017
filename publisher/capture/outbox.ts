import type { ChangeEvent } from '../../events/envelope.js';

/** One outbox row: the event and its position in the outbox. */
export interface OutboxRow {
  /** Position in the outbox (the `seq` identity). Unique within one outbox. */
  readonly seq: bigint;
  readonly event: ChangeEvent;
}

/**
 * Reads captured changes for the relay.
 *
 * - **Order.** Rows come in commit order: by transaction, then by `seq`. A row whose transaction has not
 *   committed, or committed after a row already returned, is never skipped (DESIGN.md, rule 5).
 * - **At least once.** A row stays unpublished until `markPublished`, so rows read but not marked are
 *   read again after a crash.
 * - **Errors.** A throw means the database could not be reached; retry with backoff.
 */
export interface OutboxReader {
  readBatch(limit: number): Promise<OutboxRow[]>;
  /** Called only after the transport acknowledged the events of these rows. */
  markPublished(rows: readonly OutboxRow[]): Promise<void>;
  /**
   * Dead-letters rows whose events can never be sent (the transport rejected them as invalid or too
   * large). A failed row keeps its reason where an operator can see it, is never read again by
   * `readBatch`, and is never deleted silently. Re-queuing it is an operator's decision.
   */
  markFailed(failures: readonly FailedOutboxRow[]): Promise<void>;
}

/** A row the relay gives up on, and why (the text an operator reads). */
export interface FailedOutboxRow {
  readonly row: OutboxRow;
  readonly reason: string;
}

/**
 * Appends events that did not come from a database trigger (the HTTP ways in).
 * Resolves only after the rows are committed, so an HTTP 202 after it loses nothing on a crash.
 * Appending an event id that is already in the outbox is a no-op (a client's retry is safe).
 */
export interface OutboxWriter {
  append(events: readonly ChangeEvent[]): Promise<void>;
}
