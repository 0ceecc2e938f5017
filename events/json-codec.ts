import type { InboundMessage } from './message.js';
import type { DecodeResult, MessageDecoder } from './decoder.js';
import { isJsonObject, parseJsonText } from './json.js';
import { changeEventToJson, parseChangeEvent, type ChangeEvent, type DocumentLimits } from './envelope.js';

/**
 * The envelope as plain JSON, one event per message, for transports that carry any text (in-memory,
 * Kafka, Redis Streams). The version is a number, or a digit string above 2^53.
 *
 * @param sign the publisher's signature of the event (TRUST_HMAC_KEY), written as `signature` next
 *   to the envelope's fields, so a consumer under TRUST=signed can tell the publisher's events from a
 *   foreign producer's on a shared broker.
 */
export function encodeEventJson(event: ChangeEvent, sign?: (event: ChangeEvent) => string): string {
  const json = changeEventToJson(event);
  return JSON.stringify(sign === undefined ? json : { ...json, signature: sign(event) });
}

export interface JsonDecoderOptions {
  /** The collections this consumer accepts; anything else is rejected. */
  readonly collections: readonly string[];
  readonly limits?: DocumentLimits;
  /**
   * Checks the publisher's signature (TRUST_HMAC_KEY and the previous key). With it, a message whose
   * `signature` does not verify is rejected, and one that does is `signed`. Without it, signatures
   * are not checked and no message is `signed`.
   */
  readonly verify?: (event: ChangeEvent, signature: string) => boolean;
}

/** Decodes `encodeEventJson` messages. Never throws; a rejection says why. */
export function createJsonDecoder(options: JsonDecoderOptions): MessageDecoder {
  const collections = new Set(options.collections);
  return (message: InboundMessage): DecodeResult => {
    const json = parseJsonText(message.text);
    if (!json.ok) return { ok: false, reason: json.reason };
    let envelope: unknown = json.value;
    let signature: unknown;
    if (isJsonObject(json.value) && Object.hasOwn(json.value, 'signature')) {
      const { signature: given, ...rest } = json.value;
      envelope = rest;
      signature = given;
    }
    if (signature !== undefined && typeof signature !== 'string') return { ok: false, reason: 'signature must be a string' };
    const parsed = parseChangeEvent(envelope, options.limits);
    if (!parsed.ok) return parsed;
    const event = parsed.value;
    if (!collections.has(event.collection)) {
      return { ok: false, reason: `collection "${event.collection}" is not configured` };
    }
    if (options.verify === undefined || signature === undefined) return { ok: true, events: [event] };
    if (!options.verify(event, signature)) {
      return { ok: false, reason: 'bad signature: the event is not the one the publisher signed (it was edited, or signed with another key)' };
    }
    return { ok: true, events: [event], signed: true };
  };
}
