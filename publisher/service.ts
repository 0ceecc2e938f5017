import type { Logger } from '../common/logger.js';
import { createServer } from 'node:http';
import type { Backoff } from '../common/backoff.js';
import { closeServer, listen, urlHost } from '../common/http/server.js';
import { createStallWatch, defaultStuckAfterMs, type Retrying } from '../common/stall-watch.js';
import type { ChangeEvent, DocumentLimits } from '../events/envelope.js';
import type { EventPublisher, HealthCheck } from '../transports/transport.js';
import type { Leadership } from './capture/leadership.js';
import type { OutboxReader, OutboxRetention, OutboxWriter, WakeGate } from './capture/outbox.js';
import { createOutboxRetentionJob, type OutboxRetentionJob } from './capture/retention.js';
import type { ReadinessCheck } from '../common/http/readiness.js';
import { createPublisherApp, type PublisherAbout } from './http/app.js';
import { followLeadership } from './leader-relay.js';
import { createOutboxRelay, defaultRelayBatch, type OutboxRelay } from './relay.js';

/** Deletes published outbox rows older than `maxAgeMs`, `batchSize` rows a statement, every `intervalMs`. */
export interface PublisherRetentionOptions {
  readonly outbox: OutboxRetention;
  readonly maxAgeMs: number;
  readonly batchSize: number;
  readonly intervalMs: number;
}

export interface PublisherServiceOptions {
  readonly reader: OutboxReader;
  readonly writer: OutboxWriter;
  /** `/readyz`: the outbox database answers. */
  readonly outboxCheck: HealthCheck;
  readonly publisher: EventPublisher;
  /** `/readyz`: the transport answers. Without one, the transport counts as not ready while it refuses the credentials. */
  readonly transportCheck?: HealthCheck;
  readonly logger: Logger;
  readonly port: number;
  readonly host: string;
  readonly collections: readonly string[];
  readonly about: PublisherAbout;
  readonly sourceName?: string;
  /** Rows per pass when idle, and the most under a backlog: `defaultRelayBatch` unless given. */
  readonly batchSize?: number;
  readonly maxBatchSize?: number;
  readonly pollIntervalMs?: number;
  /** Subscribes the relay to commit notifications (LISTEN); see `OutboxWakeup.wake`. */
  readonly wake?: (listener: () => void) => () => void;
  /** See `OutboxRelayOptions.wakeGate`. */
  readonly wakeGate?: WakeGate;
  /**
   * With several publishers on one outbox read in commit order (PostgreSQL, PGlite): the relay runs
   * only while this instance holds the leadership. Closed by `close`. Without one, the relay always runs.
   */
  readonly leadership?: Leadership;
  /** Without one, published rows stay in the outbox. */
  readonly retention?: PublisherRetentionOptions;
  readonly limits?: DocumentLimits;
  /** See `PublisherAppOptions.transportProblem`. */
  readonly transportProblem?: (event: ChangeEvent) => string | undefined;
  readonly backoff?: Backoff;
  /** How long one outbox batch may be retried before `/readyz` fails (RELAY_STUCK_AFTER_MS). Default 60 s. */
  readonly stuckAfterMs?: number;
  /** See `PublisherAppOptions.maxVersionAheadMs` (VERSION_MAX_AHEAD_MS). */
  readonly maxVersionAheadMs?: number;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

export interface PublisherService {
  /** The port the HTTP server listens on (useful with port 0). */
  readonly port: number;
  readonly url: string;
  readonly relay: OutboxRelay;
  /** The outbox batch the relay is retrying, if it is (the live page shows it). */
  retrying(): Retrying | undefined;
  /**
   * Stops taking requests, lets requests and the relay's batch in flight finish, steps down from the
   * leadership and stops retention, then resolves. Closes neither the outbox database nor the
   * publisher: whoever built them closes them. Idempotent.
   */
  close(): Promise<void>;
}

/** The publisher: its HTTP ways in and the outbox relay, started together and stopped together. */
export async function startPublisher(options: PublisherServiceOptions): Promise<PublisherService> {
  const logger = options.logger;
  const stalls = createStallWatch({ stuckAfterMs: options.stuckAfterMs ?? defaultStuckAfterMs, ...(options.now === undefined ? {} : { now: options.now }) });
  const relay = createOutboxRelay({
    stalls,
    reader: options.reader,
    publisher: options.publisher,
    logger,
    batchSize: options.batchSize ?? defaultRelayBatch.batchSize,
    maxBatchSize: options.maxBatchSize ?? defaultRelayBatch.maxBatchSize,
    pollIntervalMs: options.pollIntervalMs ?? 500,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.wake === undefined ? {} : { wake: options.wake }),
    ...(options.wakeGate === undefined ? {} : { wakeGate: options.wakeGate }),
  });

  const transportCheck: HealthCheck = options.transportCheck ?? {
    check() {
      const { lastError, consecutiveFailures } = relay.stats();
      if (consecutiveFailures > 0 && lastError?.kind === 'auth') {
        return Promise.reject(new Error('the transport refuses the credentials'));
      }
      return Promise.resolve();
    },
  };
  const readiness: ReadinessCheck[] = [
    { name: 'outbox', check: () => options.outboxCheck.check() },
    { name: 'transport', check: () => transportCheck.check() },
    { name: 'relay', check: () => stalls.check() },
  ];

  // A transport that lost acknowledged events (a Redis stream reset) gets them again from the outbox.
  options.publisher.onLoss?.((loss) => {
    void relay.republish(loss);
  });

  const leader = options.leadership === undefined ? undefined : followLeadership({ relay, leadership: options.leadership, logger });
  let retention: OutboxRetentionJob | undefined;
  if (options.retention !== undefined) {
    const { outbox, ...schedule } = options.retention;
    retention = createOutboxRetentionJob({ ...schedule, retention: outbox, logger, ...(options.now === undefined ? {} : { now: options.now }) });
  }

  const app = createPublisherApp({
    writer: options.writer,
    collections: options.collections,
    logger,
    about: options.about,
    readiness,
    // role: `leader` or `standby` under a leadership; `active` when every instance relays (Oracle) or there is one.
    status: () => ({ relay: { ...relay.stats(), role: leader?.role() ?? 'active', retrying: stalls.retrying() ?? null } }),
    ...(options.sourceName === undefined ? {} : { sourceName: options.sourceName }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.transportProblem === undefined ? {} : { transportProblem: options.transportProblem }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.newId === undefined ? {} : { newId: options.newId }),
    ...(options.maxVersionAheadMs === undefined ? {} : { maxVersionAheadMs: options.maxVersionAheadMs }),
  });
  const server = createServer(app);
  const port = await listen(server, options.port, options.host);
  if (leader === undefined) relay.start();
  else leader.start();
  retention?.start();
  const url = `http://${urlHost(options.host)}:${port}`;
  logger.info({ url, collections: options.collections, transport: options.about.transport, outbox: options.about.outbox }, 'publisher listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    relay,
    retrying: () => stalls.retrying(),
    close() {
      closing ??= (async () => {
        // A request in flight gets closeServer's default grace to finish: its outbox write is one transaction.
        const results = await Promise.allSettled([closeServer(server), leader === undefined ? relay.stop() : leader.stop(), retention?.stop()]);
        for (const result of results) {
          if (result.status === 'rejected') logger.warn({ err: result.reason }, 'publisher did not close cleanly');
        }
        logger.info('publisher stopped');
      })();
      return closing;
    },
  };
}
