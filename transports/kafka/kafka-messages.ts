import type { IHeaders, Message } from 'kafkajs';
import type { ChangeEvent } from '../../events/envelope.js';
import { encodeEventJson } from '../../events/json-codec.js';
import type { InboundMessage, Rejection } from '../transport.js';
import type { KafkaRecord } from './kafka-client.js';

/** Headers on every event record; the value alone is the envelope, these are for tools and routing. */
export const eventHeaders = {
  id: 'tweetbus-event-id',
  type: 'tweetbus-event-type',
  version: 'tweetbus-event-version',
  contentType: 'content-type',
} as const;

/** Headers a dead-lettered record gets on top of its own. */
export const deadLetterHeaders = {
  reason: 'tweetbus-dlq-reason',
  topic: 'tweetbus-dlq-topic',
  partition: 'tweetbus-dlq-partition',
  offset: 'tweetbus-dlq-offset',
  group: 'tweetbus-dlq-group',
  at: 'tweetbus-dlq-at',
} as const;

/** The record key: the aggregate, so every change of one row lands in one partition, in order. */
export function eventKey(event: ChangeEvent): string {
  return `${event.collection}/${event.key}`;
}

/** @param sign the publisher's signature of the event (TRUST_HMAC_KEY), written into the envelope. */
export function toKafkaMessage(event: ChangeEvent, sign?: (event: ChangeEvent) => string): Message {
  const createdAt = Date.parse(event.createdAt);
  return {
    key: eventKey(event),
    value: encodeEventJson(event, sign),
    headers: {
      [eventHeaders.id]: event.id,
      [eventHeaders.type]: event.type,
      [eventHeaders.version]: event.version.toString(),
      [eventHeaders.contentType]: 'application/json',
    },
    ...(Number.isFinite(createdAt) ? { timestamp: String(createdAt) } : {}),
  };
}

/** The message id is `partition:offset`: unique within the one topic a source reads. */
export function messageId(partition: number, offset: string): string {
  return `${partition}:${offset}`;
}

export function toInboundMessage(partition: number, record: KafkaRecord, receivedAt: Date): InboundMessage {
  return {
    id: messageId(partition, record.offset),
    text: record.value === null ? '' : record.value.toString('utf8'),
    receivedAt,
  };
}

/** Where a dead-lettered record came from. */
export interface DeadLetterOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly group: string;
  /** The record as consumed; its key, value and headers travel unchanged. */
  readonly record: KafkaRecord;
  readonly at: Date;
}

/** Reasons come from decoders and may quote input; a header need not carry a whole document. */
const maxReasonLength = 2_000;

export function deadLetterMessage(rejection: Rejection, origin: DeadLetterOrigin): Message {
  const reason = rejection.reason.length > maxReasonLength ? `${rejection.reason.slice(0, maxReasonLength)}…` : rejection.reason;
  const headers: IHeaders = {
    ...origin.record.headers,
    [deadLetterHeaders.reason]: reason,
    [deadLetterHeaders.topic]: origin.topic,
    [deadLetterHeaders.partition]: String(origin.partition),
    [deadLetterHeaders.offset]: origin.record.offset,
    [deadLetterHeaders.group]: origin.group,
    [deadLetterHeaders.at]: origin.at.toISOString(),
  };
  return { key: origin.record.key, value: origin.record.value, headers };
}

/** One header as text: KafkaJS hands consumed headers over as Buffers (or arrays of them). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}
