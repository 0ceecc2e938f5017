import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { config as loadDotenv } from 'dotenv';
import { Pool } from 'pg';
import { z } from 'zod';
import { EventTooLargeError } from '../common/errors.js';
import { createLogger, redactUrl, type Logger } from '../common/logger.js';
import { loadConfigOrReport, readPemFile, runService } from '../common/process.js';
import { sqlFromPglite, sqlFromPgPool, type SqlDatabase } from '../common/sql.js';
import type { ChangeEvent } from '../events/envelope.js';
import { createHashtagMap, encodePosts, type HashtagMap } from '../events/post-codec.js';
import { createXPublisher } from '../transports/x/x-publisher.js';
import { createPgliteOutboxListener, createPgOutboxListener, type OutboxWakeup } from './capture/postgres/outbox-listener.js';
import { createPostgresOutbox } from './capture/postgres/postgres-outbox.js';
import { applyOutboxSchema } from './capture/postgres/schema.js';
import { loadConfig, type OutboxConfig } from './config.js';
import { startPublisher, type PublisherService } from './service.js';

/** What main built, closed in this order: the service (drains the relay), the adapters, the clients. */
interface Built {
  service?: PublisherService;
  adapters: (() => Promise<void>)[];
  clients: (() => Promise<void>)[];
}

/**
 * Composition root of the publisher as a process of its own: configuration, root logger, the outbox
 * database (PGlite or a pg Pool), the outbox adapter, the X publisher, then the HTTP server and the
 * relay. Nothing below reads the environment.
 *
 * The outbox schema is applied at every start (it is idempotent), for the embedded outbox always and
 * for PostgreSQL unless OUTBOX_APPLY_SCHEMA=false, for databases whose DDL a DBA owns.
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfigOrReport(() => loadConfig(), 'publisher');
  if (config === undefined) return;

  const logger = createLogger({ level: config.logLevel, name: 'publisher' });
  const built: Built = { adapters: [], clients: [] };
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([built.service?.close()]);
    await Promise.allSettled(built.adapters.map((close) => close()));
    await Promise.allSettled(built.clients.map((close) => close()));
  };

  await runService({
    logger,
    close: closeAll,
    failedMessage: 'publisher failed to start',
    message: 'shutting down: finishing requests and the batch in flight',
    stoppedMessage: 'stopped',
    start: async () => {
      const { db, listener } = await openOutboxDatabase(config.outbox, logger, built);
      if (config.outbox.kind === 'embedded' || config.outbox.applySchema) await applyOutboxSchema(db);
      const outbox = createPostgresOutbox({ db, logger });
      built.adapters.push(() => outbox.close(), () => listener.close());

      const transport = config.transport;
      const ca = transport.caFile === undefined ? undefined : await readPemFile(transport.caFile, 'X_CA_FILE');
      const hashtags = createHashtagMap(config.collections, transport.hashtagPrefix);
      const publisher = createXPublisher({ apiUrl: transport.apiUrl, ca, credentials: transport.credentials, hashtags, logger });
      built.adapters.push(() => publisher.close());

      built.service = await startPublisher({
        reader: outbox,
        writer: outbox,
        outboxCheck: outbox,
        publisher,
        logger,
        port: config.port,
        host: config.host,
        collections: config.collections,
        sourceName: config.sourceName,
        batchSize: config.relay.batchSize,
        pollIntervalMs: config.relay.pollIntervalMs,
        wake: listener.wake,
        transportProblem: (event) => postProblem(event, hashtags),
        about: { name: 'tweetbus-publisher', version: packageVersion(), transport: transport.kind, outbox: config.outbox.kind },
      });
      logger.info(
        { url: built.service.url, outbox: config.outbox.kind, xApiUrl: redactUrl(transport.apiUrl), hashtags: hashtags.hashtags },
        'publisher ready',
      );
    },
  });
}

/** Opens the outbox database once, and a LISTEN wake-up on it; both are registered in `built` for closing. */
async function openOutboxDatabase(
  config: OutboxConfig,
  logger: Logger,
  built: Built,
): Promise<{ db: SqlDatabase; listener: OutboxWakeup }> {
  switch (config.kind) {
    case 'embedded': {
      await mkdir(config.path, { recursive: true });
      logger.info({ path: config.path }, 'outbox: embedded PGlite');
      const pglite = await PGlite.create(config.path);
      const db = sqlFromPglite(pglite, { owned: true });
      built.clients.push(() => db.close());
      return { db, listener: createPgliteOutboxListener(pglite, { logger }) };
    }
    case 'postgres': {
      logger.info({ url: redactUrl(config.databaseUrl), applySchema: config.applySchema }, 'outbox: PostgreSQL');
      const pool = new Pool({ connectionString: config.databaseUrl });
      pool.on('error', (err) => {
        logger.warn({ err }, 'idle PostgreSQL connection failed');
      });
      const db = sqlFromPgPool(pool, { owned: true });
      built.clients.push(() => db.close());
      return { db, listener: createPgOutboxListener(pool, { logger }) };
    }
  }
}

/** Why an event can never be one post, or `undefined`: checked before the 202, so the caller learns it. */
function postProblem(event: ChangeEvent, hashtags: HashtagMap): string | undefined {
  try {
    encodePosts([event], { hashtags });
    return undefined;
  } catch (err) {
    if (err instanceof EventTooLargeError) return err.message;
    throw err;
  }
}

/** The version in the nearest package.json above this module (works from the sources and from dist/). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed = z.object({ version: z.string() }).safeParse(JSON.parse(readFileSync(file, 'utf8')));
      return parsed.success ? parsed.data.version : 'unknown';
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

main().catch((err: unknown) => {
  // Only reached for a failure before the logger exists (for example dotenv itself).
  process.stderr.write(`publisher failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
