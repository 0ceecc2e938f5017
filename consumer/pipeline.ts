import type { Logger } from '../common/logger.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { InboundMessage, MessageHandler, Rejection } from '../transports/transport.js';
import type { DeadLetter, ReadModelStore } from './stores/read-model-store.js';
import { createConsumerStats, type ConsumerStats } from './stats.js';
import type { TrustPolicy } from './trust.js';

export interface ConsumerPipelineOptions {
  readonly decode: MessageDecoder;
  readonly trust: TrustPolicy;
  readonly store: ReadModelStore;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Names the transport in dead letters (`x`, `kafka`, `in-memory`). */
  readonly transportName: string;
  /** Counters for `/api/_stats`; a private set is used when absent. */
  readonly stats?: ConsumerStats;
}

/** Raw text kept in a dead letter. Posts are far shorter; this bounds what other transports can make us store. */
export const maxDeadLetterTextLength = 64 * 1024;

type Verdict = { readonly ok: true; readonly events: readonly ChangeEvent[] } | { readonly ok: false; readonly reason: string };

/**
 * The consumer's core: trust -> decode (which validates) -> one version-gated `applyBatch` per
 * batch. Rejected messages become dead letters in the store, and are returned so the source can put
 * them on the transport's dead-letter queue; they never stop the batch (DESIGN.md rule 6).
 *
 * The handler resolves only after the dead letters and the applied events are durable, so the
 * source may then move its checkpoint (rule 4). Store failures propagate untouched: the source
 * redelivers the batch, the version gate makes the repeat harmless, and a transient failure is
 * never mistaken for bad input.
 */
export function createConsumerPipeline(options: ConsumerPipelineOptions): MessageHandler {
  const { decode, trust, store, now, transportName } = options;
  const logger = options.logger.child({ component: 'consumerPipeline' });
  const stats = options.stats ?? createConsumerStats();

  function judge(message: InboundMessage): Verdict {
    const decision = trust(message);
    if (!decision.ok) return { ok: false, reason: `untrusted: ${decision.reason}` };
    try {
      const decoded = decode(message);
      return decoded.ok ? { ok: true, events: decoded.events } : { ok: false, reason: decoded.reason };
    } catch (err) {
      // Decoders promise not to throw; if one does, the input is still what we cannot handle.
      logger.error({ err, messageId: message.id }, 'decoder threw; dead-lettering the message');
      return { ok: false, reason: `decoder failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  return async (batch) => {
    if (batch.length === 0) return { rejected: [] };
    const events: ChangeEvent[] = [];
    const letters: DeadLetter[] = [];
    const rejected: Rejection[] = [];
    for (const message of batch) {
      const verdict = judge(message);
      if (verdict.ok) {
        events.push(...verdict.events);
        continue;
      }
      letters.push(deadLetterFor(message, verdict.reason, transportName));
      rejected.push({ message, reason: verdict.reason });
      logger.warn({ ...untrustedText(message), reason: verdict.reason }, 'message rejected; dead-lettered');
    }

    for (const letter of letters) await store.putDeadLetter(letter);
    const outcomes = events.length === 0 ? [] : await store.applyBatch(events);

    const counts = { applied: 0, skipped: 0, deadLettered: letters.length };
    outcomes.forEach((outcome, i) => {
      const event = events[i];
      if (outcome.status === 'applied') counts.applied += 1;
      else counts.skipped += 1;
      logger.debug(
        event === undefined
          ? { outcome }
          : { collection: event.collection, key: event.key, version: event.version.toString(), eventId: event.id, outcome },
        'event handled',
      );
    });
    stats.recordBatch(counts, now());

    const summary = { messages: batch.length, events: events.length, ...counts };
    if (counts.applied > 0 || counts.deadLettered > 0) logger.info(summary, 'batch handled');
    else logger.debug(summary, 'batch handled');
    // The store keeps its own copy for the query API; a transport with a dead-letter queue also gets them.
    return { rejected };
  };
}

function deadLetterFor(message: InboundMessage, reason: string, transport: string): DeadLetter {
  const text =
    message.text.length > maxDeadLetterTextLength ? `${message.text.slice(0, maxDeadLetterTextLength)}…[truncated]` : message.text;
  return {
    messageId: message.id,
    transport,
    text,
    reason,
    ...(message.post === undefined
      ? {}
      : { author: { id: message.post.authorId, ...(message.post.username === undefined ? {} : { username: message.post.username }) } }),
    receivedAt: message.receivedAt.toISOString(),
  };
}

/** Untrusted text goes under its own key, never spread into the log line. */
function untrustedText(message: InboundMessage): Record<string, unknown> {
  const text = message.text.length > 1024 ? `${message.text.slice(0, 1024)}…` : message.text;
  return message.post === undefined
    ? { message: { id: message.id, text } }
    : { post: { id: message.post.id, authorId: message.post.authorId, username: message.post.username, text } };
}
