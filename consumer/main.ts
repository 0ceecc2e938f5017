// First, before the other modules load: see common/lean-start.ts.
import { embeddedStoreHeap, leanStartDone } from '../common/lean-start.js';
import { createEventSigner } from '../events/signature.js';
import type { Logger } from '../common/logger.js';
import { runMain } from '../common/process.js';
import { loadConfig, type ConsumerConfig } from './config.js';
import { openReadModelStore } from './stores/open-store.js';
import { wireConsumer } from './wiring.js';
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
    const store = await openReadModelStore(config.store, logger, scope);
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
    // A small heap costs the consumer nothing with an embedded store (20,000 events: 5,663-7,505
    // events/s against 5,718-6,539, and a peak 35 MiB lower).
    leanStartDone(config.store.kind === 'embedded' ? embeddedStoreHeap : {});
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
