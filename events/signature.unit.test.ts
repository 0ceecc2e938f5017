import { describe, expect, it } from 'vitest';
import { aChangeEvent } from './change-event.fixture.js';
import type { ChangeEvent } from './envelope.js';
import { canonicalEventBytes, createEventSigner } from './signature.js';

const key = 'current-key-current-key-current-key';
const oldKey = 'previous-key-previous-key-previous-key';

describe('createEventSigner', () => {
  const event = aChangeEvent({ correlationId: 'req-7', data: { id: '8172', status: 'SHIPPED', lines: [{ sku: 'a', qty: 2 }] } });

  it('signs with 11 base64url characters that verify under the same key', () => {
    const signer = createEventSigner(key);
    const signature = signer.sign(event);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(signer.verify(event, signature)).toBe(true);
  });

  it('is deterministic and independent of the order of the document\'s keys', () => {
    const signer = createEventSigner(key);
    const reordered = { ...event, data: { status: 'SHIPPED', lines: [{ qty: 2, sku: 'a' }], id: '8172' } };
    expect(signer.sign(reordered)).toBe(signer.sign(event));
  });

  it.each<[string, Partial<ChangeEvent>]>([
    ['the id', { id: 'evt-2' }],
    ['the source', { source: 'x:@mallory' }],
    ['the type', { type: 'orders.created' }],
    ['the collection', { collection: 'customers' }],
    ['the key', { key: '8173' }],
    ['the version', { version: 9_000_000_000_000_000_000n }],
    ['the op', { op: 'delete', data: null }],
    ['a value in the document', { data: { id: '8172', status: 'HACKED', lines: [{ sku: 'a', qty: 2 }] } }],
    ['a nested value', { data: { id: '8172', status: 'SHIPPED', lines: [{ sku: 'a', qty: 3 }] } }],
    ['the time', { createdAt: '2026-01-02T03:04:05.679Z' }],
    ['the correlation id', { correlationId: 'req-8' }],
    ['a dropped correlation id', { correlationId: undefined }],
  ])('refuses a signature copied onto an event with another %s', (_what, change) => {
    const signer = createEventSigner(key);
    const signature = signer.sign(event);
    const changed: ChangeEvent = { ...event, ...change };
    expect(canonicalEventBytes(changed)).not.toBe(canonicalEventBytes(event));
    expect(signer.verify(changed, signature)).toBe(false);
  });

  it('refuses a signature made with another key', () => {
    const forger = createEventSigner('a-key-the-publisher-never-had-000');
    expect(createEventSigner(key).verify(event, forger.sign(event))).toBe(false);
  });

  it('refuses what is not a signature, without throwing', () => {
    const signer = createEventSigner(key);
    for (const garbage of ['', 'short', `${signer.sign(event)}A`, 'not base64!!', '\u0000'.repeat(11)]) {
      expect(signer.verify(event, garbage)).toBe(false);
    }
  });

  describe('rotation', () => {
    it('verifies what the previous key signed, and signs with the new one only', () => {
      const before = createEventSigner(oldKey);
      const during = createEventSigner(key, oldKey);
      expect(during.verify(event, before.sign(event))).toBe(true);
      expect(during.sign(event)).toBe(createEventSigner(key).sign(event));
      expect(during.sign(event)).not.toBe(before.sign(event));
    });

    it('forgets the previous key once it is dropped', () => {
      const before = createEventSigner(oldKey);
      expect(createEventSigner(key).verify(event, before.sign(event))).toBe(false);
    });
  });
});
