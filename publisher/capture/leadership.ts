/**
 * Which relay instance is the active one, when several run on one outbox that is read in commit
 * order (PostgreSQL, PGlite). Exactly one instance at a time holds the leadership; the others stand
 * by and campaign again every few seconds, so when the leader dies another takes over within seconds.
 *
 * An outbox that shares work row by row (Oracle, with claims) needs no leadership.
 */
export interface Leadership {
  /**
   * Starts campaigning. `onElected` runs when this instance becomes the leader; `onDeposed` runs when
   * it stops being the leader (the lock's connection was lost, or `close`). They alternate, starting
   * with `onElected`, and never run after `close` resolved. Calling `start` twice does nothing.
   */
  start(events: LeadershipEvents): void;
  isLeader(): boolean;
  /** Steps down (releasing the lock, running `onDeposed` if leading) and stops campaigning. Idempotent. */
  close(): Promise<void>;
}

export interface LeadershipEvents {
  onElected(): void;
  onDeposed(reason: string): void;
}
