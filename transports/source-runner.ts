import { sleep, type Backoff } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import type { StallWatch } from '../common/stall-watch.js';
import type { BatchResult, InboundMessage, MessageHandler, SourceHooks } from './transport.js';

/**
 * The delivery loop every source shares, so that a source adapter says only how messages arrive and
 * how a handled batch is settled; retries, the order of settling and the stuck-batch clock live here:
 *
 * - **Lifecycle.** `begin` accepts the first `start` of an open source only; `close` runs once, and
 *   aborts `signal` first so that every wait of the source ends.
 * - **Delivery.** `deliver` hands a batch to the handler until it resolves, waiting `handlerBackoff`
 *   between attempts; a throw is never a rejection, so nothing is dead-lettered for it.
 * - **Settling.** `pull` fetches, delivers and then settles (dead letters, then the checkpoint), in
 *   that order, one batch at a time; a push source (Kafka) calls `deliver` and `retry` itself.
 * - **Reading ahead.** With `prefetch`, the next fetch overlaps the current batch's handling and
 *   settling, and the consumer's `prepare` hook gets the fetched batch at once, so its decoding runs
 *   while the store works; batches are still delivered and settled one at a time, in order.
 * - **Stuck batches.** Every failed attempt, to handle or to settle, goes to the stall watch the
 *   consumer passed to `start`, and every batch that gets through clears it, so a batch retried too
 *   long shows in `/readyz` whichever step keeps failing.
 */
export interface SourceRunner {
  /** Aborted when the source closes: every wait of the source should take it. */
  readonly signal: AbortSignal;
  readonly isClosed: () => boolean;
  /**
   * Accepts the handler of the source's first `start`; throws when the source was already started
   * or is closed. `reset` lets a failed start be tried again.
   */
  begin(handler: MessageHandler, hooks?: SourceHooks): void;
  reset(): void;
  /** Hands `messages` to the handler until it resolves; `undefined` when the batch may no longer be handled. */
  deliver(messages: readonly InboundMessage[], options?: DeliveryOptions): Promise<BatchResult | undefined>;
  /**
   * Runs `attempt` until it succeeds: a step after the handler (dead letters, acknowledgement), retried
   * after `handlerBackoff` (or the `backoff` given) with each failure logged and counted. `false` when
   * given up (closed, or no longer `active`).
   */
  retry(what: string, attempt: () => Promise<void>, options?: RetryOptions): Promise<boolean>;
  /** The pull loop: `next`, `deliver`, `settle`, until the source closes (with `prefetch`, the next `next` overlaps). */
  pull<B extends PulledBatch>(adapter: PullAdapter<B>): Promise<void>;
  /** Marks the source closed and aborts its waits, then runs `stop`; later calls share the first one's promise. */
  close(stop: () => Promise<void>): Promise<void>;
}

export interface DeliveryOptions {
  /** False once the batch may no longer be handled here (Kafka: a rebalance took its partition). */
  readonly active?: () => boolean;
  /** Started while the handler runs; returns how to stop it (Kafka's heartbeats). */
  readonly whileHandling?: () => () => void;
  /** Before each new attempt (Kafka's heartbeat). */
  readonly beforeRetry?: () => Promise<void>;
  /** More fields for the log lines (Kafka's partition). */
  readonly logFields?: Readonly<Record<string, unknown>>;
  /** Hears of each failed attempt (for the source's status). */
  readonly onFailure?: (err: unknown) => void;
}

export interface RetryOptions extends DeliveryOptions {
  /** Names the stuck step in `/readyz`; default `what`. */
  readonly subject?: string;
  /** Waits between attempts; default the runner's `handlerBackoff` (Redis waits out its reconnects instead). */
  readonly backoff?: Backoff;
}

export interface PulledBatch {
  readonly messages: readonly InboundMessage[];
}

export interface PullAdapter<B extends PulledBatch> {
  /** The next batch, waiting for one if need be; `undefined` to ask again (nothing yet, or a failure waited out). */
  next(): Promise<B | undefined>;
  /** After the handler resolved (or at once, for a batch without messages): dead letters, then the checkpoint. */
  settle(batch: B, result: BatchResult): Promise<void>;
  /** After each batch, handled or not (releases what `next` took). */
  release?(batch: B): void;
  /**
   * Fetch the next batch while the current one is handled and settled, so reading overlaps applying.
   * Only for a source whose `next` may run beside `settle`, and that delivers a fetched batch that was
   * never settled again (Redis: it stays in the member's pending entries).
   */
  readonly prefetch?: boolean;
}

export interface SourceRunnerOptions {
  /** The source's name in errors: `X source`. */
  readonly name: string;
  readonly logger: Logger;
  readonly handlerBackoff: Backoff;
}

export function createSourceRunner(options: SourceRunnerOptions): SourceRunner {
  const { name, logger, handlerBackoff } = options;
  const closing = new AbortController();
  let started = false;
  let closed = false;
  let closePromise: Promise<void> | undefined;
  let handler: MessageHandler | undefined;
  let stalls: StallWatch | undefined;
  let prepare: SourceHooks['prepare'];
  /** A function, not the variable: the flag changes while we await, which narrowing cannot see. */
  const isClosed = (): boolean => closed;

  const subjectOf = (messages: readonly InboundMessage[]): string => `the batch starting at message ${messages[0]?.id ?? ''}`;

  /** A batch fetched ahead goes to the handler's `prepare` while the one before it is handled. */
  function prepared<B extends PulledBatch>(batch: B | undefined): B | undefined {
    if (batch !== undefined && batch.messages.length > 0 && !isClosed()) {
      try {
        prepare?.(batch.messages);
      } catch (err) {
        logger.debug({ err }, 'preparing a batch ahead failed; it is handled from scratch');
      }
    }
    return batch;
  }

  async function deliver(messages: readonly InboundMessage[], delivery: DeliveryOptions = {}): Promise<BatchResult | undefined> {
    const handle = handler;
    if (handle === undefined) throw new Error(`this ${name} was not started`);
    const active = delivery.active ?? (() => true);
    for (let attempt = 1; ; attempt += 1) {
      const stop = delivery.whileHandling?.();
      try {
        const result = (await handle(messages)) ?? { rejected: [] };
        stalls?.succeeded();
        return result;
      } catch (err) {
        stalls?.failed(subjectOf(messages), err);
        delivery.onFailure?.(err);
        logger.error(
          { err, attempt, size: messages.length, firstId: messages[0]?.id, lastId: messages[messages.length - 1]?.id, ...delivery.logFields },
          'the handler failed; the same batch will be delivered again',
        );
      } finally {
        stop?.();
      }
      await sleep(handlerBackoff(attempt), closing.signal);
      if (isClosed() || !active()) return undefined;
      await delivery.beforeRetry?.();
    }
  }

  async function retry(what: string, attempt: () => Promise<void>, delivery: RetryOptions = {}): Promise<boolean> {
    const active = delivery.active ?? (() => true);
    for (let n = 1; ; n += 1) {
      try {
        await attempt();
        if (n > 1) stalls?.succeeded();
        return true;
      } catch (err) {
        stalls?.failed(delivery.subject ?? what, err);
        delivery.onFailure?.(err);
        logger.error({ err, attempt: n, ...delivery.logFields }, `could not ${what}; retrying`);
      }
      await sleep((delivery.backoff ?? handlerBackoff)(n), closing.signal);
      if (isClosed() || !active()) return false;
      await delivery.beforeRetry?.();
    }
  }

  return {
    signal: closing.signal,
    isClosed,
    begin(given, hooks) {
      if (started) throw new Error(`this ${name} was already started`);
      if (isClosed()) throw new Error(`this ${name} is closed`);
      started = true;
      handler = given;
      stalls = hooks?.stalls;
      prepare = hooks?.prepare;
    },
    reset() {
      started = false;
    },
    deliver,
    retry,
    async pull<B extends PulledBatch>(adapter: PullAdapter<B>) {
      let ahead: Promise<B | undefined> | undefined;
      try {
        while (!isClosed()) {
          const batch = await (ahead ?? adapter.next());
          ahead = undefined;
          if (batch === undefined) continue;
          // The next fetch overlaps this batch's handling and settling; it is delivered only after.
          if (adapter.prefetch === true && !isClosed()) ahead = adapter.next().then(prepared);
          try {
            let result: BatchResult | undefined = { rejected: [] };
            if (batch.messages.length > 0) result = await deliver(batch.messages);
            if (result === undefined) return;
            await adapter.settle(batch, result);
          } finally {
            adapter.release?.(batch);
          }
        }
      } finally {
        // Fetched ahead but never delivered: it stays unsettled at the source, which delivers it again.
        const left = await ahead?.catch(() => undefined);
        if (left !== undefined) adapter.release?.(left);
      }
    },
    close(stop) {
      closePromise ??= (async () => {
        closed = true;
        closing.abort();
        await stop();
      })();
      return closePromise;
    },
  };
}
