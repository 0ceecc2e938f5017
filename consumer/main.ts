import type { Scope } from '../common/scope.js';
import { createEventSigner } from '../events/signature.js';
import { mkdir } from 'node:fs/promises';
import { MongoClient } from 'mongodb';
import { Pool } from 'pg';
import { redactUrl, type Logger } from '../common/logger.js';
import { runMain } from '../common/process.js';
import { sqlFromPgPool } from '../common/sql.js';
import { loadConfig, type ConsumerConfig, type ConsumerStoreConfig } from './config.js';
import { wireConsumer } from './wiring.js';
import { createEmbeddedReadModelStore } from './stores/embedded/embedded-read-model-store.js';
import { createMongoReadModelStore } from './stores/mongodb/mongodb-read-model-store.js';
import { createPostgresReadModelStore } from './stores/postgres/postgres-read-model-store.js';
import type { ReadModelStore } from './stores/read-model-store.js';
import { trustPolicy } from './trust.js';

/**
 * Composition root of the consumer as a process of its own: configuration, root logger, one client
 * per database, the store, the X source, the pipeline and the query API. Nothing below reads the
 * environment.
 */
runMain({
  name: 'consumer',
  loadConfig: () => loadConfig(),
  shutdownMessage: 'shutting down: draining the batch in flight and storing the checkpoint',
  // Deferred as opened, so closed newest first: the service (which drains the source and stores its checkpoint), the store, its client.
  start: async (config, logger, scope) => {
    const store = await buildStore(config.store, logger, scope);
    scope.defer(() => store.close());

    for (const notice of config.notices) logger.warn(notice);
    const { consumer, transport } = await wireConsumer(
      {
        transport: config.transport,
        store,
        signer: config.signing === undefined ? undefined : createEventSigner(config.signing.key, config.signing.previousKey),
        service: {
          port: config.port,
          host: config.host,
          collections: config.collections,
          trust: trustPolicy(config.trust, config.trustedAuthorIds),
          stuckAfterMs: config.stuckAfterMs,
          maxVersionAheadMs: config.maxVersionAheadMs,
        },
        beforeStart: (opened) => {
          sayWhoseMessagesApply(config, opened.describe, logger);
        },
      },
      logger,
      scope,
    );
    logger.info({ url: consumer.url, store: config.store.kind, ...transport.describe }, 'consumer ready');
  },
});

/** Whose messages apply, said at every start; loudly when it is anyone. */
function sayWhoseMessagesApply(config: ConsumerConfig, describe: Record<string, unknown>, logger: Logger): void {
  const said = { trust: config.trust, ...describe };
  switch (config.trust) {
    case 'authors':
      logger.info({ ...said, trustedAuthorIds: config.trustedAuthorIds }, 'TRUST=authors: only posts from the X accounts in X_TRUSTED_AUTHOR_IDS apply');
      break;
    case 'signed':
      logger.info(said, 'TRUST=signed: only events the publisher signed with TRUST_HMAC_KEY apply; nothing typed by hand does');
      break;
    case 'signed,authors':
      logger.info(
        { ...said, trustedAuthorIds: config.trustedAuthorIds },
        'TRUST=signed,authors: the publisher\'s signed events apply, and hand-typed posts only from the X accounts in X_TRUSTED_AUTHOR_IDS',
      );
      break;
    case 'open':
      logger.warn(
        said,
        config.transport.kind === 'x'
          ? 'TRUST=open: ANY X account that posts these hashtags can write documents of its own (never the database\'s). Use this for demos only.'
          : 'TRUST=open: anyone who can write to this topic or stream can change the read model.',
      );
  }
}

/** Builds the store; a client main creates is deferred to `scope`, so a failed start still closes it. */
async function buildStore(config: ConsumerStoreConfig, logger: Logger, scope: Scope): Promise<ReadModelStore> {
  switch (config.kind) {
    case 'embedded': {
      await mkdir(config.dataDir, { recursive: true });
      logger.info({ dataDir: config.dataDir }, 'read model: embedded PGlite');
      return createEmbeddedReadModelStore({ dataDir: config.dataDir }, { logger });
    }
    case 'postgres': {
      logger.info({ url: redactUrl(config.url) }, 'read model: PostgreSQL');
      const pool = new Pool({ connectionString: config.url });
      pool.on('error', (err) => {
        logger.warn({ err }, 'idle PostgreSQL connection failed');
      });
      const db = sqlFromPgPool(pool, { owned: true });
      scope.defer(() => db.close());
      return createPostgresReadModelStore({ db }, { logger });
    }
    case 'mongodb': {
      logger.info({ url: redactUrl(config.url), database: config.database }, 'read model: MongoDB');
      const client = new MongoClient(config.url);
      scope.defer(() => client.close());
      return createMongoReadModelStore({ client }, { database: config.database, logger });
    }
  }
}
