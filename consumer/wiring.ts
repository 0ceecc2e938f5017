import type { Logger } from '../common/logger.js';
import type { Scope } from '../common/scope.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { EventSigner } from '../events/signature.js';
import type { ConsumerTransportConfig } from '../transports/config.js';
import { openEventSource, type OpenedSource } from '../transports/open.js';
import { startConsumer, type ConsumerService, type ConsumerServiceOptions } from './service.js';
import type { ReadModelStore } from './stores/read-model-store.js';

/**
 * How a consumer is put together, the same for `consumer/main.ts` and the demo: the source its
 * transport configuration names, reading into `store`, and the service on both; deferred to the
 * caller's scope (the service closes the source: it drains the batch in flight and stores the checkpoint).
 */

/** What the service gets besides the source, the decoder, the store and the logger, which the wiring supplies. */
export type ConsumerServiceSettings = Omit<ConsumerServiceOptions, 'transportName' | 'store' | 'source' | 'decode' | 'logger' | 'sourceCheck'>;

export interface ConsumerWiring {
  readonly transport: ConsumerTransportConfig;
  readonly store: ReadModelStore;
  /** TRUST_HMAC_KEY (and the previous key): checks the publisher's signatures. */
  readonly signer?: EventSigner | undefined;
  readonly service: ConsumerServiceSettings;
  /** Wraps the transport's decoder (the demo records what arrives for its page). */
  readonly decorateDecoder?: (decode: MessageDecoder) => MessageDecoder;
  /** Runs once the source is open, before the service starts it (the consumer says whose posts apply). */
  readonly beforeStart?: (opened: OpenedSource) => void;
}

export async function wireConsumer(wiring: ConsumerWiring, logger: Logger, scope: Scope): Promise<{ consumer: ConsumerService; transport: OpenedSource }> {
  const transport = await openEventSource(wiring.transport, wiring.service.collections, wiring.store, logger, wiring.signer);
  const { source } = transport;
  wiring.beforeStart?.(transport);
  const consumer = await startConsumer({
    ...wiring.service,
    transportName: transport.name,
    store: wiring.store,
    source,
    decode: wiring.decorateDecoder?.(transport.decoder) ?? transport.decoder,
    logger,
    sourceCheck: () => source.check(),
  });
  scope.defer(() => consumer.close());
  return { consumer, transport };
}
