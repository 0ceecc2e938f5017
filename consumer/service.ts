import { createServer } from 'node:http';
import { closeServer, listen, urlHost } from '../common/http/server.js';
import type { Logger } from '../common/logger.js';
import { createStallWatch, defaultStuckAfterMs, type Retrying } from '../common/stall-watch.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { EventSource } from '../transports/transport.js';
import { createQueryApp } from './http/app.js';
import type { ReadinessCheck } from '../common/http/readiness.js';
import { createConsumerPipeline } from './pipeline.js';
import { createConsumerStats, type ConsumerStats } from './stats.js';
import type { ReadModelStore } from './stores/read-model-store.js';
import type { TrustPolicy } from './trust.js';

export interface ConsumerServiceOptions {
  /** 0 picks a free port (tests, the demo's `--port 0`). */
  readonly port: number;
  readonly host: string;
  readonly collections: readonly string[];
  /** Names the transport in dead letters. */
  readonly transportName: string;
  readonly store: ReadModelStore;
  readonly source: EventSource;
  readonly decode: MessageDecoder;
  readonly trust: TrustPolicy;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Readiness of the source for `/readyz`; throws with the reason when it is not ready. */
  readonly sourceCheck?: () => Promise<void>;
  /** How long one batch may be retried before `/readyz` fails (CONSUMER_STUCK_AFTER_MS). Default 60 s. */
  readonly stuckAfterMs?: number;
  /** How far past the clock a version may stand (VERSION_MAX_AHEAD_MS). Default one hour. */
  readonly maxVersionAheadMs?: number;
}

export interface ConsumerService {
  /** `http://host:port` of the query API. */
  readonly url: string;
  readonly port: number;
  readonly stats: ConsumerStats;
  /** The batch being retried, if one is (the live page shows it). */
  retrying(): Retrying | undefined;
  /**
   * Stops the source first (it drains the batch in flight and stores its checkpoint), then the HTTP
   * server. The store and the source's clients belong to the caller, who closes them afterwards.
   * Calling it twice is harmless.
   */
  close(): Promise<void>;
}

/**
 * The consumer as a service: the query API plus the source feeding the pipeline. Used by
 * `consumer/main.ts` and by the demo, which passes in-process parts. The HTTP server starts first, so
 * `/healthz` answers while the source catches up.
 */
export async function startConsumer(options: ConsumerServiceOptions): Promise<ConsumerService> {
  const logger = options.logger.child({ component: 'consumer' });
  const now = options.now ?? (() => new Date());
  const stats = createConsumerStats();
  const stalls = createStallWatch({ stuckAfterMs: options.stuckAfterMs ?? defaultStuckAfterMs, now });
  const readiness: ReadinessCheck[] = [
    { name: 'store', check: () => options.store.check() },
    { name: 'pipeline', check: () => stalls.check() },
  ];
  if (options.sourceCheck !== undefined) readiness.push({ name: 'source', check: options.sourceCheck });

  const app = createQueryApp({
    store: options.store,
    collections: options.collections,
    readiness,
    stats,
    retrying: () => stalls.retrying(),
    logger: options.logger,
  });
  const server = createServer(app);
  const port = await listen(server, options.port, options.host);
  const url = `http://${urlHost(options.host)}:${port}`;

  const handler = createConsumerPipeline({
    decode: options.decode,
    trust: options.trust,
    store: options.store,
    logger: options.logger,
    now,
    transportName: options.transportName,
    stats,
    ...(options.maxVersionAheadMs === undefined ? {} : { maxVersionAheadMs: options.maxVersionAheadMs }),
  });

  try {
    await options.source.start(handler, { stalls, prepare: handler.prepare });
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  logger.info({ url, collections: options.collections, transport: options.transportName }, 'consumer started');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    stats,
    retrying: () => stalls.retrying(),
    close() {
      closing ??= (async () => {
        const results = await Promise.allSettled([options.source.close()]);
        // Requests still running are short reads: closeServer's default grace is plenty.
        await closeServer(server);
        for (const result of results) {
          if (result.status === 'rejected') logger.error({ err: result.reason }, 'the source did not close cleanly');
        }
        logger.info('consumer stopped');
      })();
      return closing;
    },
  };
}
