import { startPgliteUpkeep } from '../common/pglite-upkeep.js';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../common/logger.js';
import { defaultShutdownDrainMs } from '../common/process.js';
import type { Scope } from '../common/scope.js';
import type { SqlDatabase } from '../common/sql.js';
import { settlesWithin } from '../common/timeout.js';
import type { EventSigner } from '../events/signature.js';
import type { PublisherTransportConfig } from '../transports/config.js';
import { openEventPublisher, type OpenedPublisher } from '../transports/open.js';
import type { EventPublisher, HealthCheck } from '../transports/transport.js';
import type { Leadership } from './capture/leadership.js';
import type { OutboxReader, OutboxRetention, OutboxWriter, WakeGate } from './capture/outbox.js';
import { createPgliteOutboxListener } from './capture/postgres/outbox-listener.js';
import { createPostgresOutbox } from './capture/postgres/postgres-outbox.js';
import { startPublisher, type PublisherService, type PublisherServiceOptions } from './service.js';

/**
 * How a publisher is put together, the same for `publisher/main.ts` and the demo: an outbox
 * (`Capture`), the transport its configuration names, and the service on both; everything deferred to
 * the caller's scope.
 */

/** The outbox the publisher reads and writes, and how its relay learns of commits and shares the outbox. */
export interface Capture {
  readonly outbox: OutboxReader & OutboxWriter & OutboxRetention & HealthCheck;
  /** LISTEN/NOTIFY (PostgreSQL, PGlite); without it, the relay only polls. */
  readonly wake?: (listener: () => void) => () => void;
  /** PostgreSQL: turns those notifications off while the relay reads anyway (a NOTIFY serializes commits). */
  readonly wakeGate?: WakeGate;
  /** PostgreSQL: one relay instance at a time reads an outbox read in commit order. */
  readonly leadership?: Leadership;
}

/**
 * The outbox of an embedded PGlite (the publisher's own, or the demo's write database): the adapter,
 * and a LISTEN wake-up that is active before the first commit, so even that one wakes the relay at once.
 */
export async function openPgliteCapture(pglite: PGlite, db: SqlDatabase, logger: Logger, scope: Scope): Promise<Capture> {
  const listener = createPgliteOutboxListener(pglite, { logger });
  scope.defer(() => listener.close());
  await listener.ready;
  const outbox = createPostgresOutbox({ db }, { logger });
  scope.defer(() => outbox.close());
  // PGlite runs no autovacuum: without this the outbox's statistics and dead rows slow every commit.
  const upkeep = startPgliteUpkeep(db, { logger });
  scope.defer(() => upkeep.close());
  return { outbox, wake: listener.wake };
}

/** What the service gets besides the outbox, the transport and the logger, which the wiring supplies. */
export type PublisherServiceSettings = Omit<
  PublisherServiceOptions,
  'reader' | 'writer' | 'outboxCheck' | 'publisher' | 'transportCheck' | 'transportProblem' | 'wake' | 'wakeGate' | 'leadership' | 'logger'
>;

export interface PublisherWiring {
  readonly capture: Capture;
  readonly transport: PublisherTransportConfig;
  readonly collections: readonly string[];
  /** TRUST_HMAC_KEY's signer: every event carries the publisher's signature. */
  readonly signer?: EventSigner | undefined;
  readonly service: PublisherServiceSettings;
  /** Runs once the transport is open, before the service starts (the demo checks that a broker answers). */
  readonly beforeStart?: (opened: OpenedPublisher) => Promise<void>;
}

/**
 * Opens the transport and starts the publisher service on `capture`. On close, the service drains
 * its batch in flight; one that has not finished after `defaultShutdownDrainMs` has the transport
 * closed under it, which aborts a request that hangs (its rows stay unpublished for the next start).
 */
export async function wirePublisher(wiring: PublisherWiring, logger: Logger, scope: Scope): Promise<{ service: PublisherService; transport: OpenedPublisher }> {
  const { capture } = wiring;
  const transport = await openEventPublisher(wiring.transport, wiring.collections, logger, wiring.signer);
  const { publisher } = transport;
  scope.defer(() => publisher.close());
  await wiring.beforeStart?.(transport);
  const service = await startPublisher({
    ...wiring.service,
    reader: capture.outbox,
    writer: capture.outbox,
    outboxCheck: capture.outbox,
    publisher,
    logger,
    ...(capture.wake === undefined ? {} : { wake: capture.wake }),
    ...(capture.wakeGate === undefined ? {} : { wakeGate: capture.wakeGate }),
    ...(capture.leadership === undefined ? {} : { leadership: capture.leadership }),
    ...(transport.problem === undefined ? {} : { transportProblem: transport.problem }),
    ...(transport.check === undefined ? {} : { transportCheck: transport.check }),
  });
  scope.defer(() => drainThenAbort(service, publisher, logger));
  return { service, transport };
}

async function drainThenAbort(service: PublisherService, publisher: EventPublisher, logger: Logger): Promise<void> {
  const draining = service.close();
  if (!(await settlesWithin(draining, defaultShutdownDrainMs))) {
    logger.warn(
      { drainMs: defaultShutdownDrainMs },
      'the batch in flight did not finish in time; aborting its requests (its rows stay unpublished and go out after the restart)',
    );
    await publisher.close();
  }
  await draining;
}
