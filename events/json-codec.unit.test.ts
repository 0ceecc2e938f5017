import { describe, expect, it } from 'vitest';
import type { InboundMessage } from './message.js';
import type { DecodeResult } from './decoder.js';
import { defaultDocumentLimits, type ChangeEvent } from './envelope.js';
import { aChangeEvent } from './change-event.fixture.js';
import { createJsonDecoder, encodeEventJson } from './json-codec.js';
import { createEventSigner } from './signature.js';

function anEvent(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  return aChangeEvent({ type: 'orders.upserted', data: { id: '8172', status: 'SHIPPED', site: 'example.com', customer: 'Smith & Sons <UK>' }, ...overrides });
}

const message = (text: string): InboundMessage => ({ id: '0-1', text, receivedAt: new Date('2026-01-02T03:04:06.000Z') });
const decode = createJsonDecoder({ collections: ['orders'] });

function reasonOf(result: DecodeResult): string {
  if (result.ok) throw new Error('expected a rejection');
  return result.reason;
}

describe('encodeEventJson', () => {
  it('writes the envelope as plain JSON with a numeric version', () => {
    expect(JSON.parse(encodeEventJson(anEvent()))).toMatchObject({ id: 'evt-1', version: 42, op: 'upsert' });
  });

  it('writes a version above 2^53 as a digit string', () => {
    expect(JSON.parse(encodeEventJson(anEvent({ version: 1876543210987654321n })))).toMatchObject({ version: '1876543210987654321' });
  });
});

describe('createJsonDecoder', () => {
  it.each([
    ['an upsert', anEvent()],
    ['a delete', anEvent({ op: 'delete', type: 'orders.deleted', data: null })],
    ['a large version and a correlation id', anEvent({ version: 2n ** 63n - 1n, correlationId: 'req-7' })],
  ])('decodes what encodeEventJson wrote: %s', (_name, event) => {
    expect(decode(message(encodeEventJson(event)))).toEqual({ ok: true, events: [event] });
  });

  it('rejects text that is not JSON, without throwing', () => {
    expect(reasonOf(decode(message('{"id":')))).toMatch(/^JSON does not parse/);
  });

  it('rejects JSON that is not an envelope', () => {
    expect(reasonOf(decode(message('[1,2]')))).not.toBe('');
    expect(reasonOf(decode(message('{"id":"x"}')))).toMatch(/source/);
  });

  it('rejects a collection that is not configured', () => {
    const text = encodeEventJson(anEvent({ collection: 'invoices', type: 'invoices.upserted' }));
    expect(reasonOf(decode(message(text)))).toBe('collection "invoices" is not configured');
  });

  it('rejects unsafe document keys', () => {
    const text = JSON.stringify({ ...JSON.parse(encodeEventJson(anEvent())), data: { id: '1', $where: 'x' } });
    expect(reasonOf(decode(message(text)))).toMatch(/may not start with "\$"/);
  });

  it('applies the limits it is given', () => {
    const strict = createJsonDecoder({ collections: ['orders'], limits: { ...defaultDocumentLimits, maxKeys: 2 } });
    expect(reasonOf(strict(message(encodeEventJson(anEvent()))))).toMatch(/more than 2 keys/);
  });
});

describe('signed JSON envelopes', () => {
  const signer = createEventSigner('test-key-test-key-test-key-test-key');
  const sign = (event: ChangeEvent): string => signer.sign(event);
  const verifying = createJsonDecoder({ collections: ['orders'], verify: (event, signature) => signer.verify(event, signature) });

  it('writes the signature next to the envelope, and a verifying decoder says the event is signed', () => {
    const text = encodeEventJson(anEvent(), sign);
    expect(JSON.parse(text)).toMatchObject({ id: 'evt-1', signature: signer.sign(anEvent()) });
    expect(verifying(message(text))).toEqual({ ok: true, events: [anEvent()], signed: true });
  });

  it('says an unsigned envelope is not signed; the trust policy decides what that means', () => {
    expect(verifying(message(encodeEventJson(anEvent())))).toEqual({ ok: true, events: [anEvent()] });
  });

  it('refuses an edited envelope that keeps its signature, and one signed with another key', () => {
    const genuine = encodeEventJson(anEvent(), sign);
    expect(reasonOf(verifying(message(genuine.replace('SHIPPED', 'PAID'))))).toMatch(/^bad signature/);
    const edited = anEvent({ version: 9_000_000_000_000_000_000n });
    const other = createEventSigner('another-key-another-key-another-key');
    expect(reasonOf(verifying(message(encodeEventJson(edited, (e) => other.sign(e)))))).toMatch(/^bad signature/);
  });

  it('refuses a signature that is not a string', () => {
    const text = JSON.stringify({ ...JSON.parse(encodeEventJson(anEvent())), signature: 7 });
    expect(reasonOf(verifying(message(text)))).toBe('signature must be a string');
  });

  it('decodes a signed envelope without checking when it has no key (the signature is not trusted then)', () => {
    expect(decode(message(encodeEventJson(anEvent(), sign)))).toEqual({ ok: true, events: [anEvent()] });
  });
});
