import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ChangeEvent } from './envelope.js';
import { canonicalJson } from './json.js';

/**
 * The publisher's signature on an event: HMAC-SHA256 over the event's canonical bytes, cut to 64
 * bits and written in base64url (11 characters), short enough to ride in every post: `,"_h":"…"`
 * costs 19 of a post's 280 weighted characters. A forger gets one guess per post, and X lets an
 * account post a few thousand times a day: at 2^-64 a guess, that is over 10^15 account-days per
 * forgery. (The key itself is never exposed by a truncated tag.)
 *
 * The canonical bytes are every field of the event (id, source, type, collection, key, version, op,
 * the document with its keys sorted, createdAt, correlation id) as one JSON array behind a version
 * tag, so a signature copied onto an event that differs in any field does not verify. They are
 * computed from the decoded event, never from the text: X rewrites text (entities, t.co links), and
 * the codecs undo that before the signature is checked.
 */

const scheme = 'tweetbus-event-v1';
const tagBytes = 8;
/** base64url of the tag, unpadded: 11 characters. */
const signaturePattern = new RegExp(`^[A-Za-z0-9_-]{${String(Math.ceil((tagBytes * 8) / 6))}}$`);

/** The least a key may hold: 32 characters (e.g. `openssl rand -base64 32` gives 44). */
export const minimumKeyLength = 32;

export function canonicalEventBytes(event: ChangeEvent): string {
  return canonicalJson([
    scheme,
    event.id,
    event.source,
    event.type,
    event.collection,
    event.key,
    event.version.toString(),
    event.op,
    event.data,
    // A post carries the time in epoch milliseconds (`_t`): a database's microseconds do not travel.
    new Date(event.createdAt).toISOString(),
    event.correlationId ?? null,
  ]);
}

function tag(event: ChangeEvent, key: string): Buffer {
  return createHmac('sha256', key).update(canonicalEventBytes(event), 'utf8').digest().subarray(0, tagBytes);
}

/** Signs events with the current key and checks them against it or the one before it (rotation). */
export interface EventSigner {
  sign(event: ChangeEvent): string;
  /** True when `signature` is this event's, under the current or the previous key. Never throws. */
  verify(event: ChangeEvent, signature: string): boolean;
}

/**
 * @param key TRUST_HMAC_KEY: signs, and verifies.
 * @param previousKey TRUST_HMAC_PREVIOUS_KEY: only verifies, so events signed before a rotation still apply.
 */
export function createEventSigner(key: string, previousKey?: string): EventSigner {
  const keys = previousKey === undefined ? [key] : [key, previousKey];
  return {
    sign: (event) => tag(event, key).toString('base64url'),
    verify(event, signature) {
      if (!signaturePattern.test(signature)) return false;
      const given = Buffer.from(signature, 'base64url');
      return keys.some((k) => timingSafeEqual(tag(event, k), given));
    },
  };
}
