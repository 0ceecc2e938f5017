import type { InboundMessage } from '../transports/transport.js';
import type { DecodeResult, MessageDecoder } from './decoder.js';
import { parseJsonText } from './json.js';
import { changeEventToJson, parseChangeEvent, type ChangeEvent, type DocumentLimits } from './envelope.js';

/**
 * The envelope as plain JSON, one event per message, for transports that carry any text (in-memory,
 * Kafka, Redis Streams). The version is a number, or a digit string above 2^53.
 */
export function encodeEventJson(event: ChangeEvent): string {
  return JSON.stringify(changeEventToJson(event));
}

export interface JsonDecoderOptions {
  /** The collections this consumer accepts; anything else is rejected. */
  readonly collections: readonly string[];
  readonly limits?: DocumentLimits;
}

/** Decodes `encodeEventJson` messages. Never throws; a rejection says why. */
export function createJsonDecoder(options: JsonDecoderOptions): MessageDecoder {
  const collections = new Set(options.collections);
  return (message: InboundMessage): DecodeResult => {
    const json = parseJsonText(message.text);
    if (!json.ok) return { ok: false, reason: json.reason };
    const parsed = parseChangeEvent(json.value, options.limits);
    if (!parsed.ok) return parsed;
    if (!collections.has(parsed.value.collection)) {
      return { ok: false, reason: `collection "${parsed.value.collection}" is not configured` };
    }
    return { ok: true, events: [parsed.value] };
  };
}
