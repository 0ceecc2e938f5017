import type { InboundMessage } from '../transports/transport.js';

export type TrustDecision = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Decides whether a message may change the read model at all, before it is decoded. Anyone can post
 * the hashtag on X, so this is the first gate (DESIGN.md, "Untrusted input"). A rejected message is
 * dead-lettered with the reason. What a hand-typed post may say once admitted (no publisher meta, no
 * deletes, no database-owned documents unless its author is trusted) is decided after decoding, in
 * the codec and the pipeline.
 */
export interface TrustPolicy {
  readonly mode: TrustMode;
  admit(message: InboundMessage): TrustDecision;
  /** An X account on the allow-list: its hand-typed posts may change what the write database owns. */
  trustedAuthor(message: InboundMessage): boolean;
}

/**
 * `open`: posts from anyone apply (demo only; the consumer says so at every start).
 * `authors`: only posts from the X accounts in X_TRUSTED_AUTHOR_IDS, the publisher's own included.
 */
export type TrustMode = 'open' | 'authors';

/** Applies messages from anyone, within the rules for hand-typed posts. For demos only. */
export function openTrust(): TrustPolicy {
  return { mode: 'open', admit: () => ({ ok: true }), trustedAuthor: () => false };
}

/**
 * Applies only posts whose author id is on the list. Ids, never user names: a name can be changed,
 * and then taken by someone else.
 */
export function authorsTrust(authorIds: Iterable<string>): TrustPolicy {
  const allowed = new Set(authorIds);
  const trustedAuthor = (message: InboundMessage): boolean => message.post !== undefined && allowed.has(message.post.authorId);
  return {
    mode: 'authors',
    trustedAuthor,
    admit(message) {
      if (message.post === undefined) return { ok: false, reason: 'untrusted: not an X post, and TRUST=authors trusts X accounts only' };
      return trustedAuthor(message) ? { ok: true } : { ok: false, reason: `untrusted author ${message.post.authorId}` };
    },
  };
}
