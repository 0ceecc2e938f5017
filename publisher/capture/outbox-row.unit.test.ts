import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { propertyRuns } from '../../common/property.fixture.js';
import { logSink } from '../../common/log-sink.fixture.js';
import { changeEventSchema, defaultDocumentLimits, parseChangeEvent } from '../../events/envelope.js';
import { cutReason, digits, logDeadLettered, outboxFields, outboxRowToEvent, plainOutboxFields, type OutboxRowFields } from './outbox-row.js';

/** A valid `orders` upsert row, as an adapter maps it onto the fields. */
function fields(overrides: Partial<OutboxRowFields> = {}): OutboxRowFields {
  return {
    id: 'evt-1',
    aggregatetype: 'orders',
    aggregateid: '8172',
    type: 'orders.upserted',
    payload: { id: '8172', status: 'SHIPPED' },
    version: '9007199254740993',
    op: 'upsert',
    source: 'pg:dvx_orders',
    created_at: '2026-01-02T03:04:05.678Z',
    correlation_id: null,
    ...overrides,
  };
}

describe('outboxRowToEvent', () => {
  it('reads created_at given as a Date (as pg gives it) as its canonical instant, without the schema', () => {
    const safeParse = vi.spyOn(changeEventSchema, 'safeParse');
    try {
      const fromDate = outboxRowToEvent(fields({ created_at: new Date('2026-01-02T03:04:05.678Z') }), defaultDocumentLimits);
      expect(safeParse).not.toHaveBeenCalled();
      expect(fromDate).toEqual(outboxRowToEvent(fields(), defaultDocumentLimits));
    } finally {
      safeParse.mockRestore();
    }
  });

  it('leaves a Date without a canonical form (a year past 9999) to the schema, which reads it as before', () => {
    const far = new Date('+010000-01-01T00:00:00.000Z');
    const row = fields({ created_at: far });
    const read = outboxRowToEvent(row, defaultDocumentLimits);
    expect(read).toEqual(
      parseChangeEvent({ id: 'evt-1', source: 'pg:dvx_orders', type: 'orders.upserted', collection: 'orders', key: '8172', version: '9007199254740993', op: 'upsert', data: row.payload, createdAt: far }),
    );
    expect(read).toMatchObject({ ok: true, value: { createdAt: '+010000-01-01T00:00:00.000Z' } });
  });

  it('reads a row as the change event it holds, with the version exact', () => {
    expect(outboxRowToEvent(fields({ correlation_id: 'corr-1' }), defaultDocumentLimits)).toEqual({
      ok: true,
      value: {
        id: 'evt-1',
        source: 'pg:dvx_orders',
        type: 'orders.upserted',
        collection: 'orders',
        key: '8172',
        version: 9_007_199_254_740_993n,
        op: 'upsert',
        data: { id: '8172', status: 'SHIPPED' },
        createdAt: '2026-01-02T03:04:05.678Z',
        correlationId: 'corr-1',
      },
    });
  });

  it('leaves correlationId out when the column is null', () => {
    const event = outboxRowToEvent(fields(), defaultDocumentLimits);
    expect(event.ok).toBe(true);
    expect(event.ok && Object.keys(event.value)).not.toContain('correlationId');
  });

  it('names every column of the wrong type, in column order', () => {
    const event = outboxRowToEvent(fields({ type: 7, correlation_id: undefined }), defaultDocumentLimits);
    expect(event.ok).toBe(false);
    expect(!event.ok && event.reason).toMatch(/^outbox row has unexpected columns: type: .+; correlation_id: .+$/);
  });

  it('says why a row with the right columns is not a valid change event', () => {
    const event = outboxRowToEvent(fields({ aggregatetype: 'not-a-collection!' }), defaultDocumentLimits);
    expect(!event.ok && event.reason).toMatch(/^outbox row is not a valid change event: .*collection/);
  });

  it('applies the document limits it is given', () => {
    const limits = { ...defaultDocumentLimits, maxKeys: 1 };
    expect(outboxRowToEvent(fields(), limits).ok).toBe(false);
    expect(outboxRowToEvent(fields({ payload: { id: '8172' } }), limits).ok).toBe(true);
  });
});

describe('cutReason', () => {
  it('keeps a reason that fits', () => {
    expect(cutReason('too large for a post', 20)).toBe('too large for a post');
  });

  it('cuts a longer reason to the limit, ending in an ellipsis', () => {
    expect(cutReason('x'.repeat(5000), 1000)).toBe(`${'x'.repeat(999)}…`);
  });

  it('counts characters, so a surrogate pair is never split', () => {
    const cut = cutReason('😀'.repeat(10), 5);
    expect(Array.from(cut)).toHaveLength(5);
    expect(cut).toBe(`${'😀'.repeat(4)}…`);
  });
});

describe('digits', () => {
  it('reads integers above 2^53 exactly', () => {
    expect(digits.parse('18446744073709551615')).toBe(18_446_744_073_709_551_615n);
  });

  it('refuses anything but digits', () => {
    for (const value of ['', '-1', '1.5', '1e3', 42, '123456789012345678901']) {
      expect(digits.safeParse(value).success, String(value)).toBe(false);
    }
  });
});

describe('logDeadLettered', () => {
  it('warns once per row with its id, its position as text and the reason', () => {
    const { logger, lines } = logSink();

    logDeadLettered(logger, [
      { id: 'a', seq: 9_007_199_254_740_995n, reason: 'payload is not JSON' },
      { id: 'b', seq: 2n, reason: 'bad collection' },
    ]);

    expect(lines.map((l) => ({ level: l.level, msg: l.msg, outboxRow: l.outboxRow, reason: l.reason }))).toEqual([
      { level: 40, msg: 'outbox row dead-lettered: it can never be published', outboxRow: { id: 'a', seq: '9007199254740995' }, reason: 'payload is not JSON' },
      { level: 40, msg: 'outbox row dead-lettered: it can never be published', outboxRow: { id: 'b', seq: '2' }, reason: 'bad collection' },
    ]);
  });
});

describe('plainOutboxFields', () => {
  it("takes exactly the rows the columns' schema takes, and gives what it gives", () => {
    const anything = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constant(null),
      fc.constant(undefined),
      fc.integer(),
      fc.boolean(),
      fc.date({ noInvalidDate: false }),
      fc.constant(new Date(Number.NaN)),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
    );
    const text = fc.string({ maxLength: 8 });
    const wellTyped = fc.record({
      id: text, aggregatetype: text, aggregateid: text, type: text, payload: anything, version: text, op: text, source: text,
      created_at: fc.oneof(text, fc.date({ noInvalidDate: true })),
      correlation_id: fc.option(text, { nil: null }),
    });
    // A row of the table's types with one or two columns holding anything: the check must refuse what
    // the schema refuses, column by column.
    const column = fc.constantFrom<keyof OutboxRowFields>('id', 'aggregatetype', 'aggregateid', 'type', 'payload', 'version', 'op', 'source', 'created_at', 'correlation_id');
    const anyRow = fc
      .tuple(wellTyped, fc.array(fc.tuple(column, anything), { minLength: 1, maxLength: 2 }))
      .map(([row, changes]): OutboxRowFields => ({ ...row, ...Object.fromEntries(changes) }));
    let taken = 0;
    fc.assert(
      fc.property(fc.oneof(wellTyped, anyRow), (row: OutboxRowFields) => {
        const plain = plainOutboxFields(row);
        const reference = outboxFields.safeParse(row);
        if (plain === undefined) {
          expect(reference.success).toBe(false);
          return;
        }
        taken += 1;
        expect(reference.success).toBe(true);
        expect(plain).toEqual(reference.data);
      }),
      propertyRuns(3000),
    );
    expect(taken).toBeGreaterThan(500);
  });
});
