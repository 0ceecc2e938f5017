import type { InboundMessage } from '../transports/transport.js';

export type TrustDecision = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Decides whether a message may change the read model at all. Anyone can post the hashtag on X, and
 * anyone with the password can write to a shared broker, so this is the first gate (README,
 * "Who may say what"). A rejected message is dead-lettered with the reason.
 *
 * It decides twice: `admit` on who sent the message, before it is decoded (a stranger's post is
 * refused whatever it says), and `admitDecoded` on whether the publisher signed it, which only the
 * decoder can tell. What a hand-typed post may say once admitted (no publisher meta, no deletes, no
 * database-owned documents unless its author is trusted) is decided in the codec and the pipeline.
 */
export interface TrustPolicy {
  readonly mode: TrustMode;
  /** Before decoding: may this sender write at all? */
  admit(message: InboundMessage): TrustDecision;
  /** After decoding: `signed` is true when every event carried the publisher's valid signature. */
  admitDecoded(message: InboundMessage, signed: boolean): TrustDecision;
  /** An X account on the allow-list: its hand-typed posts may change what the write database owns. */
  trustedAuthor(message: InboundMessage): boolean;
}

/**
 * - `open`: messages from anyone apply (demo only; the consumer says so at every start).
 * - `authors`: only posts from the X accounts in X_TRUSTED_AUTHOR_IDS, the publisher's own included.
 * - `signed`: only events the publisher signed with TRUST_HMAC_KEY (or TRUST_HMAC_PREVIOUS_KEY), on
 *   any transport; nothing typed by hand applies.
 * - `signed,authors`: the publisher's signed events, and hand-typed posts from the allow-list.
 */
export const trustModes = ['open', 'authors', 'signed', 'signed,authors'] as const;

export type TrustMode = (typeof trustModes)[number];

const admitted: TrustDecision = { ok: true };

/** Applies messages from anyone, within the rules for hand-typed posts. For demos only. */
export function openTrust(): TrustPolicy {
  return { mode: 'open', admit: () => admitted, admitDecoded: () => admitted, trustedAuthor: () => false };
}

/**
 * Applies only posts whose author id is on the list. Ids, never user names: a name can be changed,
 * and then taken by someone else.
 */
export function authorsTrust(authorIds: Iterable<string>): TrustPolicy {
  const trustedAuthor = allowList(authorIds);
  return {
    mode: 'authors',
    trustedAuthor,
    admit(message) {
      if (message.author === undefined) return { ok: false, reason: 'untrusted: not an X post, and TRUST=authors trusts X accounts only' };
      return trustedAuthor(message) ? admitted : { ok: false, reason: `untrusted author ${message.author.id}` };
    },
    admitDecoded: () => admitted,
  };
}

/**
 * Applies only what the publisher signed. Who sent it does not matter: the signature covers every
 * field of each event, so a genuine post re-posted by someone else says only what the publisher said,
 * and the version gate skips what the read model already holds.
 */
export function signedTrust(): TrustPolicy {
  return {
    mode: 'signed',
    trustedAuthor: () => false,
    admit: () => admitted,
    admitDecoded: (_message, signed) =>
      signed ? admitted : { ok: false, reason: 'not signed: TRUST=signed applies only events the publisher signed with TRUST_HMAC_KEY' },
  };
}

/** The publisher's signed events from anyone, and hand-typed posts from the X accounts on the list. */
export function signedAuthorsTrust(authorIds: Iterable<string>): TrustPolicy {
  const trustedAuthor = allowList(authorIds);
  return {
    mode: 'signed,authors',
    trustedAuthor,
    admit: () => admitted,
    admitDecoded(message, signed) {
      if (signed || trustedAuthor(message)) return admitted;
      return message.author === undefined
        ? { ok: false, reason: 'not signed: under TRUST=signed,authors only the publisher\'s signed events and posts from X_TRUSTED_AUTHOR_IDS apply' }
        : { ok: false, reason: `untrusted author ${message.author.id}: not signed by the publisher, and not on X_TRUSTED_AUTHOR_IDS` };
    },
  };
}

/** The policy a mode names; `authorIds` is X_TRUSTED_AUTHOR_IDS. */
export function trustPolicy(mode: TrustMode, authorIds: readonly string[]): TrustPolicy {
  switch (mode) {
    case 'open':
      return openTrust();
    case 'authors':
      return authorsTrust(authorIds);
    case 'signed':
      return signedTrust();
    case 'signed,authors':
      return signedAuthorsTrust(authorIds);
  }
}

function allowList(authorIds: Iterable<string>): (message: InboundMessage) => boolean {
  const allowed = new Set(authorIds);
  return (message) => message.author !== undefined && allowed.has(message.author.id);
}
