import type { Scope } from '../common/scope.js';
import { createEventSigner } from '../events/signature.js';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Pool } from 'pg';
import { z } from 'zod';
import { findUp } from '../common/find-up.js';
import { redactUrl, type Logger } from '../common/logger.js';
import { defaultShutdownDrainMs, runMain } from '../common/process.js';
import { settlesWithin } from '../common/timeout.js';
import { sqlFromPglite, sqlFromPgPool, type SqlDatabase } from '../common/sql.js';
import { openEventPublisher } from '../transports/open.js';
import type { EventPublisher, HealthCheck } from '../transports/transport.js';
import type { Leadership } from './capture/leadership.js';
import { createOracleOutbox } from './capture/oracle/oracle-outbox.js';
import type { OutboxReader, OutboxRetention, OutboxWriter } from './capture/outbox.js';
import { createPgAdvisoryLeadership } from './capture/postgres/advisory-leadership.js';
import { createPgliteOutboxListener, createPgOutboxListener, type OutboxWakeup } from './capture/postgres/outbox-listener.js';
import { createPostgresOutbox } from './capture/postgres/postgres-outbox.js';
import { applyOutboxSchema } from './capture/postgres/schema.js';
import { loadConfig, type OutboxConfig, type PublisherConfig } from './config.js';
import { startPublisher, type PublisherService } from './service.js';


/**
 * Composition root of the publisher as a process of its own: configuration, root logger, the outbox
 * database (PGlite or a pg Pool), the outbox adapter, the X publisher, then the HTTP server and the
 * relay. Nothing below reads the environment.
 *
 * The outbox schema is applied at every start (it is idempotent), for the embedded outbox always and
 * for PostgreSQL unless OUTBOX_APPLY_SCHEMA=false, for databases whose DDL a DBA owns.
 */
runMain({
  name: 'publisher',
  loadConfig: () => loadConfig(),
  shutdownMessage: 'shutting down: finishing requests and the batch in flight',
  // Deferred as opened, so closed newest first: the service (which drains the relay), the transport, the outbox adapters, the database.
  start: async (config, logger, scope) => {
    for (const notice of config.notices) logger.warn(notice);
    const capture = await openCapture(config, logger, scope);
    const signer = config.signing === undefined ? undefined : createEventSigner(config.signing.key);
    const transport = await openEventPublisher(config.transport, config.collections, logger, signer);
    const publisher = transport.publisher;
    scope.defer(() => publisher.close());

    const service = await startPublisher({
      reader: capture.outbox,
      writer: capture.outbox,
      outboxCheck: capture.outbox,
      publisher,
      logger,
      port: config.port,
      host: config.host,
      collections: config.collections,
      sourceName: config.sourceName,
      batchSize: config.relay.batchSize,
      stuckAfterMs: config.relay.stuckAfterMs,
      maxVersionAheadMs: config.maxVersionAheadMs,
      pollIntervalMs: config.relay.pollIntervalMs,
      ...(capture.wake === undefined ? {} : { wake: capture.wake }),
      ...(capture.leadership === undefined ? {} : { leadership: capture.leadership }),
      ...(config.retention.maxAgeMs > 0 ? { retention: { outbox: capture.outbox, ...config.retention } } : {}),
      ...(transport.problem === undefined ? {} : { transportProblem: transport.problem }),
      ...(transport.check === undefined ? {} : { transportCheck: transport.check }),
      about: { name: 'tweetbus-publisher', version: packageVersion(), transport: config.transport.kind, outbox: config.outbox.kind, instance: config.relay.instanceId },
    });
    scope.defer(() => drainThenAbort(service, publisher, logger));
    logger.info({ url: service.url, outbox: config.outbox.kind, ...transport.describe }, 'publisher ready');
  },
});

/** The outbox the publisher reads and writes, and how its relay learns of commits and shares the outbox. */
interface Capture {
  readonly outbox: OutboxReader & OutboxWriter & OutboxRetention & HealthCheck;
  /** LISTEN/NOTIFY (PostgreSQL, PGlite); without it, the relay only polls. */
  readonly wake?: (listener: () => void) => () => void;
  /** PostgreSQL: one relay instance at a time reads an outbox read in commit order. */
  readonly leadership?: Leadership;
}

/**
 * Opens the outbox database once, the outbox adapter on it, and what wakes and elects its relay. All
 * of it is deferred to `scope` for closing; the leadership is closed by the service, before the pool.
 */
async function openCapture(config: PublisherConfig, logger: Logger, scope: Scope): Promise<Capture> {
  const outboxConfig = config.outbox;
  if (outboxConfig.kind === 'oracle') {
    // The schema is a DBA's (sql/oracle/); rows are claimed one by one, so every instance relays at once.
    logger.info({ url: redactUrl(outboxConfig.databaseUrl), instance: config.relay.instanceId, claimLeaseMs: config.relay.claimLeaseMs }, 'outbox: Oracle (Thin mode)');
    const outbox = createOracleOutbox({
      url: outboxConfig.databaseUrl,
      urlName: 'OUTBOX_DATABASE_URL',
      instanceId: config.relay.instanceId,
      leaseMs: config.relay.claimLeaseMs,
      logger,
    });
    scope.defer(() => outbox.close());
    return { outbox };
  }

  const { db, listener, pool } = await openPostgresDatabase(outboxConfig, config.relay.instanceId, logger);
  scope.defer(() => db.close());
  scope.defer(() => listener.close());
  if (outboxConfig.kind === 'embedded' || outboxConfig.applySchema) await applyOutboxSchema(db);
  const outbox = createPostgresOutbox({ db, logger });
  scope.defer(() => outbox.close());
  // PGlite is one process's own database: there is nobody to elect against.
  const leadership = pool === undefined ? undefined : createPgAdvisoryLeadership(pool, { logger, retryMs: config.relay.leaderRetryMs });
  return { outbox, wake: listener.wake, ...(leadership === undefined ? {} : { leadership }) };
}

/** The embedded PGlite or a PostgreSQL pool, with a LISTEN wake-up on it; `pool` only for PostgreSQL. */
async function openPostgresDatabase(
  config: Exclude<OutboxConfig, { kind: 'oracle' }>,
  instanceId: string,
  logger: Logger,
): Promise<{ db: SqlDatabase; listener: OutboxWakeup; pool?: Pool }> {
  if (config.kind === 'embedded') {
    await mkdir(config.path, { recursive: true });
    logger.info({ path: config.path }, 'outbox: embedded PGlite');
    const pglite = await PGlite.create(config.path);
    return { db: sqlFromPglite(pglite, { owned: true }), listener: createPgliteOutboxListener(pglite, { logger }) };
  }
  logger.info({ url: redactUrl(config.databaseUrl), applySchema: config.applySchema, instance: instanceId }, 'outbox: PostgreSQL');
  const pool = new Pool({ connectionString: config.databaseUrl });
  pool.on('error', (err) => {
    logger.warn({ err }, 'idle PostgreSQL connection failed');
  });
  return { db: sqlFromPgPool(pool, { owned: true }), listener: createPgOutboxListener(pool, { logger }), pool };
}

/**
 * Closes the service, which drains the relay's batch in flight; one that has not finished after
 * `defaultShutdownDrainMs` has the transport closed under it, which aborts a request that hangs (its
 * rows stay unpublished and go out after the restart).
 */
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

/** The version in the nearest package.json above this module (works from the sources and from dist/). */
function packageVersion(): string {
  const root = findUp('package.json', import.meta.url);
  if (root === undefined) return 'unknown';
  const parsed = z.object({ version: z.string() }).safeParse(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')));
  return parsed.success ? parsed.data.version : 'unknown';
}
