import type { Logger } from '../../common/logger.js';
import { defaultExponentialBackoff, sleep as abortableSleep, type Backoff } from '../../common/backoff.js';
import type { OutboxRetention } from './outbox.js';

export interface OutboxRetentionJobOptions {
  readonly retention: OutboxRetention;
  /** Published rows older than this are deleted. */
  readonly maxAgeMs: number;
  /** Rows deleted per statement (one short transaction each). */
  readonly batchSize: number;
  /** Wait from the end of one run to the start of the next. */
  readonly intervalMs: number;
  /** Wait between two batches of one run, so a large backlog never hogs the database. Defaults to 100 ms. */
  readonly pauseMs?: number;
  /** Wait before retry N after a failed run; never longer than `intervalMs`. */
  readonly backoff?: Backoff;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Resolves after `ms`, or at once when `signal` is or becomes aborted. Tests pass one they control. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface OutboxRetentionJob {
  /** Runs at once, then `intervalMs` after each run ends, until `stop`. Calling it while running does nothing. */
  start(): void;
  /** Ends the wait between runs, lets the batch in flight finish (no further batch starts), then resolves. Idempotent. */
  stop(): Promise<void>;
  /**
   * One run: deletes rows published before `now - maxAgeMs`, batch after batch while a full batch came
   * back, pausing `pauseMs` between batches. Resolves with how many rows it deleted; rejects when the
   * outbox could not be reached (batches deleted before that stay deleted, and are logged). Runs never
   * overlap. After `stop`, a run deletes one batch at most.
   */
  runOnce(): Promise<number>;
}

/**
 * Keeps the outbox from growing forever by deleting published rows past their age, in small batches
 * (see `OutboxRetention`). Errors are logged and retried with backoff; the loop never throws. Several
 * instances may run it on one outbox: each batch skips rows another instance is deleting.
 */
export function createOutboxRetentionJob(options: OutboxRetentionJobOptions): OutboxRetentionJob {
  const { retention, maxAgeMs, batchSize, intervalMs } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a whole number of at least 1, not ${batchSize}`);
  if (!(maxAgeMs >= 0)) throw new RangeError(`maxAgeMs must be 0 or more, not ${maxAgeMs}`);
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be more than 0, not ${intervalMs}`);
  const pauseMs = options.pauseMs ?? 100;
  const logger = options.logger.child({ component: 'outboxRetention' });
  const backoff = options.backoff ?? defaultExponentialBackoff({ initialMs: 1_000, maxMs: 60_000 });
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? abortableSleep;

  let stopController = new AbortController();
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  async function run(signal: AbortSignal): Promise<number> {
    const before = new Date(now().getTime() - maxAgeMs);
    let deleted = 0;
    let batches = 0;
    try {
      for (;;) {
        const count = await retention.deletePublished(before, batchSize);
        deleted += count;
        batches += 1;
        if (count < batchSize) break;
        // Resolves at once when stopped, so stop() waits for no pause, and no batch starts after it.
        await sleep(pauseMs, signal);
        if (signal.aborted) break;
      }
    } finally {
      const fields = { deleted, batches, publishedBefore: before.toISOString() };
      if (deleted > 0) logger.info(fields, 'deleted published outbox rows');
      else logger.debug(fields, 'no published outbox rows old enough to delete');
    }
    return deleted;
  }

  function serialized(signal: AbortSignal): Promise<number> {
    const next = chain.then(() => run(signal));
    chain = next.catch(() => undefined);
    return next;
  }

  async function repeat(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let waitMs = intervalMs;
      try {
        await serialized(signal);
        failures = 0;
      } catch (err) {
        failures += 1;
        waitMs = Math.min(intervalMs, backoff(failures));
        logger.warn({ err, attempt: failures, retryInMs: waitMs }, 'outbox retention failed; retrying');
      }
      await sleep(waitMs, signal);
    }
  }

  return {
    start() {
      if (loop !== undefined) return;
      if (stopController.signal.aborted) stopController = new AbortController();
      stopping = undefined;
      loop = repeat(stopController.signal);
      logger.info({ maxAgeMs, batchSize, intervalMs }, 'outbox retention started');
    },

    stop() {
      stopping ??= (async () => {
        stopController.abort();
        const running = loop;
        await running;
        await chain;
        loop = undefined;
        if (running !== undefined) logger.info('outbox retention stopped');
      })();
      return stopping;
    },

    runOnce() {
      return serialized(stopController.signal);
    },
  };
}
