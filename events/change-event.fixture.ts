import { defaultEventType, type ChangeEvent } from './envelope.js';

/**
 * Test-data builder for change events: a valid `orders` upsert, changed only where a test says so.
 * Tests of every module build events through it, so a new envelope field is added in one place.
 */
export function aChangeEvent(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  const collection = overrides.collection ?? 'orders';
  const op = overrides.op ?? 'upsert';
  return {
    id: 'evt-1',
    source: 'pg:dvx_orders',
    type: defaultEventType(collection, op),
    collection,
    key: '8172',
    version: 42n,
    op,
    data: op === 'delete' ? null : { id: overrides.key ?? '8172', status: 'SHIPPED' },
    createdAt: '2026-01-02T03:04:05.678Z',
    ...overrides,
  };
}

/** For `sort` on versions and seqs: without a comparator, bigints are sorted as strings. */
export function compareBigints(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
