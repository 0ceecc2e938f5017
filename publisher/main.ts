// First, before the other modules load: see common/lean-start.ts.
import { embeddedStoreHeap, leanStartDone } from '../common/lean-start.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { findUp } from '../common/find-up.js';
import { redactUrl, type Logger } from '../common/logger.js';
import { runMain } from '../common/process.js';
import type { Scope } from '../common/scope.js';
import type { SqlDatabase } from '../common/sql.js';
import { createEventSigner } from '../events/signature.js';
import { createPgAdvisoryLeadership } from './capture/postgres/advisory-leadership.js';
import { createPgOutboxListener } from './capture/postgres/outbox-listener.js';
import { createPostgresOutbox } from './capture/postgres/postgres-outbox.js';
import { createPgWakeGate } from './capture/postgres/wake-gate.js';
import { rowsPerSecond, snapshotOnAttach, type SnapshotTarget } from './capture/snapshot.js';
import { openEmbeddedOutbox, openPostgresOutbox, openSnapshotTarget } from './outbox-database.js';
import { loadConfig, type PublisherConfig } from './config.js';
import { openPgliteCapture, wirePublisher, type Capture } from './wiring.js';

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
    const { capture, db } = await openCapture(config, logger, scope);
    const { service, transport } = await wirePublisher(
      {
        capture,
        transport: config.transport,
        collections: config.collections,
        signer: config.signing === undefined ? undefined : createEventSigner(config.signing.key),
        service: {
          port: config.port,
          host: config.host,
          collections: config.collections,
          sourceName: config.sourceName,
          batchSize: config.relay.batchSize,
          maxBatchSize: config.relay.maxBatchSize,
          stuckAfterMs: config.relay.stuckAfterMs,
          maxVersionAheadMs: config.maxVersionAheadMs,
          pollIntervalMs: config.relay.pollIntervalMs,
          ...(config.retention.maxAgeMs > 0 ? { retention: { outbox: capture.outbox, ...config.retention } } : {}),
          about: { name: 'tweetbus-publisher', version: packageVersion(), transport: config.transport.kind, outbox: config.outbox.kind, instance: config.relay.instanceId },
        },
      },
      logger,
      scope,
    );
    logger.info({ url: service.url, outbox: config.outbox.kind, ...transport.describe }, 'publisher ready');
    leanStartDone(config.outbox.kind === 'embedded' ? embeddedStoreHeap : {});
    if (config.snapshotOnAttach !== undefined) {
      const { target, close } = await openSnapshotTarget(config.outbox, logger, db);
      scope.defer(close);
      startSnapshotsOnAttach(target, config.snapshotOnAttach.chunkSize, logger, scope);
    }
  },
});

/**
 * SNAPSHOT_ON_ATTACH: beside the relay, snapshots each captured table whose snapshot never finished.
 * Shutting down stops it between chunks (deferred last, so it stops before the database closes); a
 * failure is logged and the snapshot goes on after its last chunk at the next start.
 */
function startSnapshotsOnAttach(target: SnapshotTarget, chunkSize: number, logger: Logger, scope: Scope): void {
  const log = logger.child({ component: 'snapshotOnAttach' });
  const stop = new AbortController();
  const running = snapshotOnAttach(target, {
    chunkSize,
    signal: stop.signal,
    onDone: (result) => {
      if (result.stopped) {
        log.info({ table: result.table, collection: result.collection, rows: result.enqueued }, 'snapshot stopped by the shutdown; it goes on after its last chunk at the next start');
        return;
      }
      log.info({ table: result.table, collection: result.collection, rows: result.enqueued, resumed: result.resumed, ms: Math.round(result.ms), rowsPerSecond: rowsPerSecond(result) }, 'snapshot of a captured table done');
    },
  })
    .then((results) => {
      if (results.length === 0) log.info('every captured table has had its snapshot');
    })
    .catch((err: unknown) => {
      log.error({ err }, 'snapshot on attach failed; it goes on after its last chunk at the next start');
    });
  scope.defer(async () => {
    stop.abort();
    await running;
  });
}

/**
 * Opens the outbox database once, the outbox adapter on it, and what wakes and elects its relay. All
 * of it is deferred to `scope` for closing; the leadership is closed by the service, before the pool.
 */
async function openCapture(config: PublisherConfig, logger: Logger, scope: Scope): Promise<{ capture: Capture; db?: SqlDatabase }> {
  const outboxConfig = config.outbox;
  switch (outboxConfig.kind) {
    case 'oracle': {
      // The schema is a DBA's (sql/oracle/); rows are claimed one by one, so every instance relays at once.
      // oracledb is loaded only here (see transports/open.ts).
      const { createOracleOutbox } = await import('./capture/oracle/oracle-outbox.js');
      logger.info({ url: redactUrl(outboxConfig.databaseUrl), instance: config.relay.instanceId, claimLeaseMs: config.relay.claimLeaseMs }, 'outbox: Oracle (Thin mode)');
      const outbox = createOracleOutbox(
        { url: outboxConfig.databaseUrl, urlName: 'OUTBOX_DATABASE_URL' },
        { instanceId: config.relay.instanceId, leaseMs: config.relay.claimLeaseMs, logger },
      );
      scope.defer(() => outbox.close());
      return { capture: { outbox } };
    }
    case 'embedded': {
      // PGlite is one process's own database: there is nobody to elect against.
      logger.info({ path: outboxConfig.path }, 'outbox: embedded PGlite');
      const { db, pglite } = await openEmbeddedOutbox(outboxConfig, logger);
      scope.defer(() => db.close());
      return { capture: await openPgliteCapture(pglite, db, logger, scope), db };
    }
    case 'postgres': {
      logger.info({ url: redactUrl(outboxConfig.databaseUrl), applySchema: outboxConfig.applySchema, instance: config.relay.instanceId }, 'outbox: PostgreSQL');
      const { db, pool } = await openPostgresOutbox(outboxConfig, logger);
      scope.defer(() => db.close());
      const listener = createPgOutboxListener(pool, { logger });
      scope.defer(() => listener.close());
      const outbox = createPostgresOutbox({ db }, { logger });
      scope.defer(() => outbox.close());
      const leadership = createPgAdvisoryLeadership(pool, { logger, retryMs: config.relay.leaderRetryMs });
      const wakeGate = createPgWakeGate(db, { logger });
      return { capture: { outbox, wake: listener.wake, wakeGate, leadership }, db };
    }
  }
}

/** The version in the nearest package.json above this module (works from the sources and from dist/). */
function packageVersion(): string {
  const root = findUp('package.json', import.meta.url);
  if (root === undefined) return 'unknown';
  const parsed = z.object({ version: z.string() }).safeParse(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')));
  return parsed.success ? parsed.data.version : 'unknown';
}
