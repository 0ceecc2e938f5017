import type { EnvReader } from './config/env-reader.js';
import { wholeNumber } from './config/env-reader.js';
import { describeError } from './logger.js';

/** Work that keeps failing: what, since when, how often, and the last reason. */
export interface Retrying {
  /** What is retried, in words that name it: `the batch starting at message 1876…`. */
  readonly subject: string;
  /** When the first attempt of this run of failures failed (ISO-8601). */
  readonly since: string;
  readonly attempts: number;
  readonly lastError: string;
  /** Retried for longer than the bound: `/readyz` fails. */
  readonly stuck: boolean;
}

/**
 * Watches a retry loop so that one that never gets through is seen (DESIGN rule 6: nothing stops the
 * pipeline unnoticed). Fed by the loop's owner: `failed` after each failed attempt, `succeeded` when
 * the work got through. A run of failures counts from its first failure until a success, whatever
 * the subject: no progress at all is what matters.
 */
export interface StallWatch {
  failed(subject: string, err: unknown): void;
  succeeded(): void;
  /** The run of failures in progress, whatever its age; `undefined` while work gets through. */
  retrying(): Retrying | undefined;
  /** For `/readyz`: rejects, naming the subject and the last error, once the run is older than the bound. */
  check(): Promise<void>;
}

/** How long a run of failures may last before it counts as stuck (CONSUMER_STUCK_AFTER_MS, RELAY_STUCK_AFTER_MS). */
export const defaultStuckAfterMs = 60_000;

/** The variable of the consumer's bound, or of the relay's. */
export type StuckAfterVariable = 'CONSUMER_STUCK_AFTER_MS' | 'RELAY_STUCK_AFTER_MS';

/** A stuck bound, read the same way by every service. */
export function readStuckAfterMs(name: StuckAfterVariable, reader: EnvReader): number {
  return reader.read(name, wholeNumber(1_000, 86_400_000), defaultStuckAfterMs, 'milliseconds a batch may be retried before /readyz fails, 1000 to 86400000');
}

export function createStallWatch(options: { readonly stuckAfterMs: number; readonly now?: () => Date }): StallWatch {
  const now = options.now ?? (() => new Date());
  let run: { subject: string; since: Date; attempts: number; lastError: string } | undefined;

  const retrying = (): Retrying | undefined =>
    run === undefined
      ? undefined
      : {
          subject: run.subject,
          since: run.since.toISOString(),
          attempts: run.attempts,
          lastError: run.lastError,
          stuck: now().getTime() - run.since.getTime() >= options.stuckAfterMs,
        };

  return {
    failed(subject, err) {
      run = { subject, since: run?.since ?? now(), attempts: (run?.attempts ?? 0) + 1, lastError: describeError(err) };
    },
    succeeded() {
      run = undefined;
    },
    retrying,
    check() {
      const current = retrying();
      if (current === undefined || !current.stuck) return Promise.resolve();
      const seconds = Math.round((now().getTime() - Date.parse(current.since)) / 1000);
      return Promise.reject(
        new Error(`stuck for ${seconds} s retrying ${current.subject} (${current.attempts} attempts); last error: ${current.lastError}`),
      );
    },
  };
}
