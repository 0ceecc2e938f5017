import type { InboundMessage } from '../transports/transport.js';

export type TrustDecision = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Decides whether a message may change the read model, before it is decoded. Anyone can post the
 * hashtag on X, so this is the first gate for hand-typed posts (DESIGN.md, "Untrusted input").
 * A rejected message is dead-lettered with the reason.
 */
export type TrustPolicy = (message: InboundMessage) => TrustDecision;

/** The trust policies a consumer can be configured with. Only `open` exists in this release. */
export type TrustMode = 'open';

/**
 * Applies messages from anyone. For demos only: the service says so loudly at start.
 * `authors` (an allow-list) and `signed` (HMAC) come in a later release.
 */
export function openTrust(): TrustPolicy {
  return () => ({ ok: true });
}
