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
 * - **Order.** Each key's rows come in version order, and no committed row is ever skipped, however
 *   late its transaction commits (docs/design-notes.md, rule 5). How depends on the database: PostgreSQL reads
 *   rows of transactions below the snapshot's xmin, by seq, with one active relay (a `Leadership`); Oracle claims rows one by one, and only a key's oldest unpublished row, so several
 *   relays share the outbox. Across keys there is no order.
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
  /**
   * Marks published rows unpublished again, those published at or after `since` (all of them when it
   * is undefined), because the transport lost them after acknowledging them. Failed rows stay as they
   * are. Resolves with how many rows will be published again.
   */
  republishSince(since: Date | undefined): Promise<number>;
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

/**
 * Deletes published rows so the outbox does not grow forever. Never touches unpublished or failed
 * rows: an unpublished row is work still to do, and a failed one waits for an operator.
 */
export interface OutboxRetention {
  /**
   * Deletes at most `limit` rows whose `published_at` is before `before`, oldest first, in one short transaction,
   * and resolves with how many it deleted. The caller repeats while a full batch came back, so no
   * single statement holds many row locks or much undo.
   */
  deletePublished(before: Date, limit: number): Promise<number>;
}

/**
 * Whether writers notify the relay at commit. PostgreSQL makes notifying transactions commit one at
 * a time (each holds a database-wide lock through its WAL flush), so while the relay reads anyway (a
 * backlog, steady traffic) it turns notifications off, and before it sleeps it turns them on.
 */
export interface WakeGate {
  /** Writers notify from now on. Resolves once the writers that may have skipped it have ended. Never rejects. */
  arm(): Promise<void>;
  /** Writers need not notify: the relay reads again without waiting. Never rejects. */
  disarm(): Promise<void>;
}
