import type { Logger } from '../common/logger.js';
import { defaultExponentialBackoff, sleep as abortableSleep, type Backoff } from '../common/backoff.js';
import { EventTooLargeError, TransportError, type TransportErrorKind } from '../common/errors.js';
import type { StallWatch } from '../common/stall-watch.js';
import type { EventPublisher, TransportLoss } from '../transports/transport.js';
import type { OutboxReader, OutboxRow, WakeGate } from './capture/outbox.js';

/** The most outbox rows the relay reads and publishes in one batch (RELAY_BATCH_SIZE, RELAY_MAX_BATCH_SIZE). */
export const maxRelayBatchSize = 1000;

/** Small batches when idle, for latency; batches that double up to a thousand under a backlog. */
export const defaultRelayBatch = { batchSize: 20, maxBatchSize: maxRelayBatchSize } as const;

/**
 * With a wake gate, while writers do not notify: the wait after a pass that found nothing, and how
 * many such passes in a row before the relay turns notifications on and sleeps. A pass that found rows
 * is followed by another at once, as a notification would have made it. So under steady traffic the
 * relay reads back to back, and after about 10 ms of quiet it sleeps until a writer notifies it.
 */
const gatedPollMs = 5;
const emptyPassesBeforeSleep = 3;

export interface OutboxRelayOptions {
  readonly reader: OutboxReader;
  readonly publisher: EventPublisher;
  readonly logger: Logger;
  /** Rows read and published per pass while the outbox is nearly empty: small, for latency. */
  readonly batchSize: number;
  /**
   * The most rows per pass under a backlog. Each pass that comes back full doubles the next one's
   * size up to this; a pass that finds fewer rows than it asked for goes back to `batchSize`.
   * Default `batchSize` (a fixed batch).
   */
  readonly maxBatchSize?: number;
  /** How long the relay waits after a pass that left the outbox empty (a wake-up cuts it short). */
  readonly pollIntervalMs: number;
  /** Wait before retry N after a retryable transport error or an outbox error. */
  readonly backoff?: Backoff;
  /** Wait between attempts while the transport refuses the credentials (an operator must act). */
  readonly authRetryMs?: number;
  readonly now?: () => Date;
  /** Resolves after `ms`, or at once when `signal` is or becomes aborted. Tests pass one that does not really wait. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Subscribes to "rows were committed" notifications (LISTEN); returns the unsubscribe function. */
  readonly wake?: (listener: () => void) => () => void;
  /**
   * Turns the writers' notifications on before the relay sleeps and off while it reads (PostgreSQL,
   * where a NOTIFY serializes commits). Without it, writers always notify.
   */
  readonly wakeGate?: WakeGate;
  /**
   * Hears of every failed attempt and of every pass that moved the outbox on (`/readyz`). Waiting out
   * a quota is not a failure: the transport answered, and rule 7 says wait.
   */
  readonly stalls?: StallWatch;
}

export type OutboxRelayErrorKind = TransportErrorKind | 'tooLarge' | 'outbox' | 'unknown';

export interface OutboxRelayStats {
  readonly state: 'idle' | 'running' | 'stopping' | 'stopped';
  /** Rows marked published since the relay was created. */
  readonly published: number;
  /** Rows dead-lettered by the relay (the transport can never carry them). */
  readonly failed: number;
  /** Failed attempts in a row; 0 after a pass that published. */
  readonly consecutiveFailures: number;
  readonly lastError?: { readonly kind: OutboxRelayErrorKind; readonly message: string; readonly at: string } | undefined;
  /** Set while the relay waits out a transport quota. */
  readonly rateLimitedUntil?: string | undefined;
  readonly lastPublishedAt?: string | undefined;
  /** Rows the next pass asks for: `batchSize` when idle, up to `maxBatchSize` under a backlog. */
  readonly batchSize: number;
}

export interface OutboxRelay {
  /** Starts the polling loop. Calling it while running does nothing. */
  start(): void;
  /** Stops polling, lets the batch in flight finish (publish and mark), then resolves. Idempotent. */
  stop(): Promise<void>;
  stats(): OutboxRelayStats;
  /**
   * One pass: read a batch, publish it, mark what the transport acknowledged. Waits out a failure
   * (backoff, quota reset) before resolving, but never throws. Resolves with the number of rows that
   * left the outbox (published or dead-lettered). Passes never overlap.
   */
  tick(): Promise<number>;
  /**
   * The transport lost events it had acknowledged (a Redis stream reset or trimmed past a lagging
   * group): marks the rows published since `loss.since` for publishing again, between two passes, and
   * wakes the loop. Only while the relay runs; a standby leaves it to the instance that leads.
   * Retries until it succeeds or the relay stops; resolves with how many rows go out again.
   */
  republish(loss: TransportLoss): Promise<number>;
}

interface PassResult {
  readonly handled: number;
  /** Run the next pass now instead of waiting for the poll interval. */
  readonly more: boolean;
}

/**
 * Moves events from the outbox to the transport, at least once (docs/design-notes.md, rules 4, 7, 8).
 *
 * - Rows are marked published only after `publish` resolved for them; after a failure, the
 *   acknowledged prefix (`TransportError.published`) is marked and the rest is read again.
 * - A quota (`rateLimited`) is waited out until `resetAt`; events wait in the outbox meanwhile.
 * - `retryable` errors and outbox errors back off and retry; `auth` retries slowly, forever, because
 *   nothing is lost while an operator fixes the credentials.
 * - An event the transport can never carry (`EventTooLargeError`, `invalid`) is dead-lettered in the
 *   outbox with the reason, and the rows behind it flow on. When `invalid` comes for a batch, the next
 *   pass sends its first unacknowledged event alone, so only the offending event is dead-lettered.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { reader, publisher, batchSize, pollIntervalMs } = options;
  const maxBatchSize = Math.max(batchSize, options.maxBatchSize ?? batchSize);
  const logger = options.logger.child({ component: 'outboxRelay' });
  const backoff = options.backoff ?? defaultExponentialBackoff({ initialMs: 500, maxMs: 30_000 });
  const authRetryMs = options.authRetryMs ?? 60_000;
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? abortableSleep;
  const stalls = options.stalls;

  let state: OutboxRelayStats['state'] = 'idle';
  let published = 0;
  let failed = 0;
  let consecutiveFailures = 0;
  let lastError: OutboxRelayStats['lastError'];
  let rateLimitedUntil: Date | undefined;
  let lastPublishedAt: Date | undefined;
  let isolateNext = false;
  /** Grows while passes come back full, so a backlog drains in large batches and an idle outbox in small ones. */
  let currentBatchSize = batchSize;

  let stopController = new AbortController();
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let wakeups = 0;
  let pollWait: AbortController | undefined;
  let unsubscribeWake: (() => void) | undefined;

  function recordError(kind: OutboxRelayErrorKind, err: unknown, rows: readonly OutboxRow[] = []): void {
    consecutiveFailures += 1;
    lastError = { kind, message: err instanceof Error ? err.message : String(err), at: now().toISOString() };
    if (kind === 'rateLimited') {
      stalls?.succeeded();
      return;
    }
    const first = rows[0];
    stalls?.failed(first === undefined ? 'the outbox read' : `the outbox batch starting at event ${first.event.id} (seq ${first.seq.toString()})`, err);
  }

  async function wait(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms, stopController.signal);
  }

  async function markPublished(rows: readonly OutboxRow[]): Promise<boolean> {
    if (rows.length === 0) return true;
    try {
      await reader.markPublished(rows);
    } catch (err) {
      // The transport has the events; they will be sent again (duplicates are harmless, rule 2).
      recordError('outbox', err, rows);
      logger.error({ err, count: rows.length, attempt: consecutiveFailures }, 'could not mark published rows; they will be sent again');
      await wait(backoff(consecutiveFailures));
      return false;
    }
    published += rows.length;
    lastPublishedAt = now();
    const first = rows[0];
    const last = rows[rows.length - 1];
    logger.info(
      { count: rows.length, fromSeq: first?.seq.toString(), toSeq: last?.seq.toString(), eventIds: rows.map((r) => r.event.id) },
      'events published',
    );
    return true;
  }

  async function deadLetter(row: OutboxRow, reason: string, err: unknown): Promise<boolean> {
    try {
      await reader.markFailed([{ row, reason }]);
    } catch (markErr) {
      recordError('outbox', markErr, [row]);
      logger.error({ err: markErr, attempt: consecutiveFailures }, 'could not dead-letter an outbox row; retrying');
      await wait(backoff(consecutiveFailures));
      return false;
    }
    failed += 1;
    stalls?.succeeded();
    const { event } = row;
    logger.error(
      { err, event: { id: event.id, collection: event.collection, key: event.key, version: event.version.toString() }, seq: row.seq.toString() },
      'event can never be published; dead-lettered in the outbox',
    );
    return true;
  }

  async function onPublishError(rows: readonly OutboxRow[], err: unknown, isolating: boolean): Promise<PassResult> {
    const acknowledged = err instanceof TransportError ? Math.min(Math.max(err.published, 0), rows.length) : 0;
    if (!(await markPublished(rows.slice(0, acknowledged)))) return { handled: 0, more: true };
    const rest = rows.slice(acknowledged);
    const first = rest[0];
    if (first === undefined) return { handled: acknowledged, more: true };

    if (err instanceof EventTooLargeError) {
      const offending = rest.find((r) => r.event.id === err.eventId) ?? (isolating || rest.length === 1 ? first : undefined);
      if (offending === undefined) {
        isolateNext = true;
        return { handled: acknowledged, more: true };
      }
      recordError('tooLarge', err, [offending]);
      const marked = await deadLetter(offending, err.message, err);
      return { handled: acknowledged + (marked ? 1 : 0), more: true };
    }

    if (!(err instanceof TransportError)) {
      recordError('unknown', err, rest);
      const waitMs = backoff(consecutiveFailures);
      logger.error({ err, attempt: consecutiveFailures, retryInMs: waitMs, pending: rest.length }, 'publish failed unexpectedly; retrying');
      await wait(waitMs);
      return { handled: acknowledged, more: true };
    }

    recordError(err.kind, err, rest);
    switch (err.kind) {
      case 'invalid': {
        if (!isolating && rest.length > 1) {
          // Which event was refused is not known: send the first one alone next, then the rest.
          isolateNext = true;
          logger.warn({ err, pending: rest.length }, 'transport refused a batch as invalid; sending its first event alone');
          return { handled: acknowledged, more: true };
        }
        const marked = await deadLetter(first, `transport refused the event as invalid: ${err.message}`, err);
        return { handled: acknowledged + (marked ? 1 : 0), more: true };
      }
      case 'rateLimited': {
        const resetAt = err.resetAt;
        const waitMs = resetAt === undefined ? backoff(consecutiveFailures) : Math.max(0, resetAt.getTime() - now().getTime());
        const until = new Date(now().getTime() + waitMs);
        if (rateLimitedUntil === undefined) {
          logger.warn(
            { resetAt: until.toISOString(), waitMs, pending: rest.length },
            'transport quota used up; events wait in the outbox until it resets',
          );
        } else {
          logger.debug({ resetAt: until.toISOString(), waitMs }, 'still rate limited');
        }
        rateLimitedUntil = until;
        await wait(waitMs);
        return { handled: acknowledged, more: true };
      }
      case 'auth': {
        const waitMs = Math.max(authRetryMs, backoff(consecutiveFailures));
        logger.error(
          { err, attempt: consecutiveFailures, retryInMs: waitMs, pending: rest.length },
          'transport refused the credentials; events wait in the outbox until an operator fixes them',
        );
        await wait(waitMs);
        return { handled: acknowledged, more: true };
      }
      case 'retryable': {
        if (stopController.signal.aborted) {
          logger.info({ pending: rest.length, reason: err.message }, 'publish aborted by the shutdown; its rows stay unpublished and go out after the restart');
          return { handled: acknowledged, more: false };
        }
        const waitMs = backoff(consecutiveFailures);
        logger.warn({ err, attempt: consecutiveFailures, retryInMs: waitMs, pending: rest.length }, 'publish failed; retrying');
        await wait(waitMs);
        return { handled: acknowledged, more: true };
      }
    }
  }

  async function pass(): Promise<PassResult> {
    const isolating = isolateNext;
    isolateNext = false;
    const limit = isolating ? 1 : currentBatchSize;
    let rows: OutboxRow[];
    try {
      rows = await reader.readBatch(limit);
    } catch (err) {
      recordError('outbox', err);
      const waitMs = backoff(consecutiveFailures);
      logger.warn({ err, attempt: consecutiveFailures, retryInMs: waitMs }, 'could not read the outbox; retrying');
      await wait(waitMs);
      return { handled: 0, more: true };
    }
    if (!isolating) resize(rows.length === limit);
    if (rows.length === 0) {
      stalls?.succeeded();
      return { handled: 0, more: false };
    }

    try {
      await publisher.publish(rows.map((r) => r.event));
    } catch (err) {
      return await onPublishError(rows, err, isolating);
    }
    if (!(await markPublished(rows))) return { handled: 0, more: true };
    if (rateLimitedUntil !== undefined) logger.info('transport quota reset; publishing again');
    rateLimitedUntil = undefined;
    consecutiveFailures = 0;
    stalls?.succeeded();
    return { handled: rows.length, more: rows.length === limit || isolating };
  }

  /** Doubles the next pass after a full one (up to `maxBatchSize`); back to `batchSize` once the backlog is gone. */
  function resize(full: boolean): void {
    const next = full ? Math.min(currentBatchSize * 2, maxBatchSize) : batchSize;
    if (next !== currentBatchSize) logger.debug({ from: currentBatchSize, to: next }, full ? 'backlog: larger batches' : 'backlog drained: small batches again');
    currentBatchSize = next;
  }

  async function safePass(): Promise<PassResult> {
    try {
      return await pass();
    } catch (err) {
      // Only a bug gets here (pass handles every expected failure); keep the relay alive.
      recordError('unknown', err);
      logger.error({ err }, 'relay pass failed unexpectedly');
      await wait(backoff(consecutiveFailures));
      return { handled: 0, more: true };
    }
  }

  async function republishLost(loss: TransportLoss): Promise<number> {
    const since = loss.since?.toISOString() ?? 'any time';
    for (let attempt = 1; !stopController.signal.aborted; attempt += 1) {
      try {
        const count = await reader.republishSince(loss.since);
        logger.error({ since, count, reason: loss.reason }, 'the transport lost events it had acknowledged: publishing them again from the outbox');
        return count;
      } catch (err) {
        recordError('outbox', err);
        logger.error({ err, attempt, since }, 'could not mark the lost events for publishing again; retrying');
        await wait(backoff(attempt));
      }
    }
    return 0;
  }

  function serialized(): Promise<PassResult> {
    const next = chain.then(safePass);
    chain = next;
    return next;
  }

  async function run(signal: AbortSignal): Promise<void> {
    const gate = options.wakeGate;
    // Whether writers notify: unknown until the relay first sets it (a relay before this one left it).
    let notifying: boolean | undefined;
    let emptyPasses = 0;
    for (;;) {
      if (signal.aborted) return;
      const wakeupsBefore = wakeups;
      const { handled, more } = await serialized();
      emptyPasses = handled > 0 ? 0 : emptyPasses + 1;
      if (gate !== undefined && handled > 0 && notifying !== false) {
        await gate.disarm();
        notifying = false;
      }
      if (more || wakeups !== wakeupsBefore) continue;
      let waitMs = pollIntervalMs;
      if (gate !== undefined && notifying !== true) {
        if (emptyPasses >= emptyPassesBeforeSleep) {
          await gate.arm();
          notifying = true;
          // One more pass before sleeping: it reads the rows of writers that skipped their notification.
          continue;
        }
        // Rows came: more are likely on their way, as a notification would have said. None: look again shortly.
        if (handled > 0) continue;
        waitMs = gatedPollMs;
      }
      const pause = new AbortController();
      pollWait = pause;
      try {
        await sleep(waitMs, AbortSignal.any([signal, pause.signal]));
      } finally {
        pollWait = undefined;
      }
    }
  }

  return {
    start() {
      if (loop !== undefined) return;
      if (stopController.signal.aborted) stopController = new AbortController();
      stopping = undefined;
      state = 'running';
      unsubscribeWake = options.wake?.(() => {
        wakeups += 1;
        pollWait?.abort();
      });
      const signal = stopController.signal;
      loop = run(signal);
      logger.info({ batchSize, maxBatchSize, pollIntervalMs }, 'outbox relay started');
    },

    stop() {
      stopping ??= (async () => {
        if (state === 'running') state = 'stopping';
        stopController.abort();
        unsubscribeWake?.();
        unsubscribeWake = undefined;
        const running = loop;
        await running;
        await chain;
        loop = undefined;
        if (running !== undefined) logger.info({ published, failed }, 'outbox relay stopped');
        state = 'stopped';
      })();
      return stopping;
    },

    async republish(loss) {
      if (state !== 'running') {
        logger.info({ reason: loss.reason }, 'the transport lost events; the relay that runs (another instance) publishes them again');
        return 0;
      }
      const done = chain.then(() => republishLost(loss));
      chain = done;
      const count = await done;
      wakeups += 1;
      pollWait?.abort();
      return count;
    },

    stats() {
      return {
        state,
        published,
        failed,
        consecutiveFailures,
        lastError,
        rateLimitedUntil: rateLimitedUntil?.toISOString(),
        lastPublishedAt: lastPublishedAt?.toISOString(),
        batchSize: currentBatchSize,
      };
    },

    async tick() {
      const { handled } = await serialized();
      return handled;
    },
  };
}
