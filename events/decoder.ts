import type { ChangeEvent } from './envelope.js';
import type { InboundMessage } from './message.js';

/** Decoding never throws: a message either yields events or a reason it was rejected (for the dead-letter store). */
export type DecodeResult =
  | {
      readonly ok: true;
      readonly events: readonly ChangeEvent[];
      /** The publisher signed every event, and each signature was checked (TRUST_HMAC_KEY). Absent: not signed. */
      readonly signed?: boolean;
    }
  | { readonly ok: false; readonly reason: string };

/** Turns one inbound message into events. Each transport's wire format has one (post codec, JSON envelope). */
export type MessageDecoder = (message: InboundMessage) => DecodeResult;
