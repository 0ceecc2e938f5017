import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../common/property.fixture.js';
import type { JsonObject } from './json.js';
import {
  changeEventSchema,
  changeEventToJson,
  defaultDocumentLimits,
  defaultEventType,
  documentProblem,
  parseChangeEvent,
  plainEnvelope,
  type ChangeEvent,
  type DocumentLimits,
} from './envelope.js';

const wire = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'evt-1',
  source: 'pg:dvx_orders',
  type: 'orders.upserted',
  collection: 'orders',
  key: '8172',
  version: 42,
  op: 'upsert',
  data: { id: '8172', status: 'SHIPPED' },
  createdAt: '2026-01-02T03:04:05.678Z',
  ...overrides,
});

function reasonOf(value: unknown, limits?: DocumentLimits): string {
  const result = parseChangeEvent(value, limits);
  if (result.ok) throw new Error('expected a rejection');
  return result.reason;
}

function eventOf(value: unknown): ChangeEvent {
  const result = parseChangeEvent(value);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

describe('parseChangeEvent', () => {
  it('accepts a well-formed upsert and makes the version a bigint', () => {
    expect(eventOf(wire())).toEqual({
      id: 'evt-1',
      source: 'pg:dvx_orders',
      type: 'orders.upserted',
      collection: 'orders',
      key: '8172',
      version: 42n,
      op: 'upsert',
      data: { id: '8172', status: 'SHIPPED' },
      createdAt: '2026-01-02T03:04:05.678Z',
    });
  });

  it('accepts a version given as a string of digits beyond 2^53', () => {
    expect(eventOf(wire({ version: '1876543210987654321' })).version).toBe(1876543210987654321n);
  });

  it('rejects a version beyond a signed 64-bit integer', () => {
    expect(reasonOf(wire({ version: '9223372036854775808' }))).toMatch(/64-bit/);
  });

  it('rejects a version number that is not a safe integer', () => {
    expect(reasonOf(wire({ version: 2 ** 60 }))).toMatch(/^version/);
    expect(reasonOf(wire({ version: 1.5 }))).toMatch(/^version/);
    expect(reasonOf(wire({ version: -1 }))).toMatch(/^version/);
  });

  it('rejects a version string with anything but digits', () => {
    expect(reasonOf(wire({ version: '12a' }))).toMatch(/^version/);
    expect(reasonOf(wire({ version: '' }))).toMatch(/^version/);
  });

  it('turns a numeric key into its decimal string', () => {
    expect(eventOf(wire({ key: 8172 })).key).toBe('8172');
  });

  it('rejects a key that is neither a plain string nor an integer', () => {
    expect(reasonOf(wire({ key: { id: 1 } }))).toMatch(/^key/);
    expect(reasonOf(wire({ key: 1.5 }))).toMatch(/^key/);
    expect(reasonOf(wire({ key: '' }))).toMatch(/^key/);
  });

  it('accepts a delete with null data', () => {
    const event = eventOf(wire({ op: 'delete', type: defaultEventType('orders', 'delete'), data: null }));
    expect(event.op).toBe('delete');
    expect(event.data).toBeNull();
  });

  it('drops any data a delete carries', () => {
    expect(eventOf(wire({ op: 'delete', data: { id: '8172' } })).data).toBeNull();
  });

  it('rejects an upsert without data', () => {
    expect(reasonOf(wire({ data: null }))).toMatch(/^data: an upsert carries the full row image/);
  });

  it('rejects unknown envelope fields', () => {
    expect(reasonOf(wire({ extra: 1 }))).toMatch(/extra/);
  });

  it('rejects a collection that could not be a hashtag', () => {
    expect(reasonOf(wire({ collection: 'dvx-orders' }))).toMatch(/^collection/);
  });

  it('normalizes createdAt to UTC with milliseconds', () => {
    expect(eventOf(wire({ createdAt: '2026-01-02T04:04:05+01:00' })).createdAt).toBe('2026-01-02T03:04:05.000Z');
  });

  it.each([
    ['$set', /may not start with "\$"/],
    ['a.b', /may not contain "\."/],
    ['constructor', /not allowed/],
    ['prototype', /not allowed/],
    ['', /may not be empty/],
    ['a\u0000b', /NUL/],
  ])('rejects a document key %j', (key, reason) => {
    expect(reasonOf(wire({ data: { id: '1', [key]: 1 } }))).toMatch(reason);
  });

  it('rejects a "__proto__" key coming from JSON.parse', () => {
    const hostile: unknown = JSON.parse('{"id":"1","nested":{"__proto__":{"polluted":true}}}');
    expect(reasonOf(wire({ data: hostile }))).toMatch(/data\.nested: key "__proto__" is not allowed/);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('rejects a forbidden key nested inside an array', () => {
    expect(reasonOf(wire({ data: { id: '1', items: [{ ok: 1 }, { $where: 'x' }] } }))).toMatch(/data\.items\[1\]/);
  });

  it('rejects a NUL character in a string value', () => {
    expect(reasonOf(wire({ data: { id: '1', name: 'a\u0000' } }))).toMatch(/data\.name contains a NUL/);
  });

  it('rejects a document nested deeper than the limit', () => {
    const limits = { ...defaultDocumentLimits, maxDepth: 3 };
    expect(reasonOf(wire({ data: { id: '1', a: { b: { c: {} } } } }), limits)).toMatch(/deeper than 3/);
    expect(parseChangeEvent(wire({ data: { id: '1', a: { b: {} } } }), limits).ok).toBe(true);
  });

  it('rejects a document with more keys than the limit', () => {
    const limits = { ...defaultDocumentLimits, maxKeys: 3 };
    expect(reasonOf(wire({ data: { id: '1', a: 1, b: 2, c: 3 } }), limits)).toMatch(/more than 3 keys/);
  });

  it('rejects a document larger than the byte limit, counting UTF-8 bytes', () => {
    const limits = { ...defaultDocumentLimits, maxBytes: 40 };
    expect(reasonOf(wire({ data: { id: '1', name: '日本語日本語日本語' } }), limits)).toMatch(/bytes/);
  });

  it('rejects a string longer than the limit', () => {
    const limits = { ...defaultDocumentLimits, maxStringLength: 4 };
    expect(reasonOf(wire({ data: { id: '1', name: 'abcde' } }), limits)).toMatch(/data\.name is longer than 4/);
  });
});

describe('plainEnvelope (the schema without zod)', () => {
  it('takes what publishers write', () => {
    expect(plainEnvelope(wire())).toEqual(changeEventSchema.parse(wire()));
    expect(plainEnvelope(wire({ key: 8172, version: '9223372036854775807', op: 'delete', data: null, correlationId: 'c-1' }))).toBeDefined();
  });

  it('accepts nothing the schema refuses, and gives what the schema gives', () => {
    const text = (max: number) =>
      fc.oneof(
        fc.string({ maxLength: max + 2 }),
        fc.string({ unit: 'binary', maxLength: 4 }),
        fc.constantFrom('', 'a'.repeat(max), 'a'.repeat(max + 1), 'a\u0000', 'a\uD800', '😀'),
        fc.constantFrom(1, null, true),
      );
    const instant = fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString());
    const fields = {
      id: text(128),
      source: text(256),
      type: text(128),
      collection: fc.oneof(fc.constantFrom('orders', 'Orders_1', '1orders', 'or-ders', 'a'.repeat(64), 'a'.repeat(65), ''), fc.string({ maxLength: 6 })),
      key: fc.oneof(text(256), fc.integer(), fc.double(), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, -0, 1.5)),
      version: fc.oneof(
        fc.nat(),
        fc.integer(),
        fc.double(),
        fc.bigInt(),
        fc.stringMatching(/^-?\d{0,21}$/),
        fc.constantFrom('9'.repeat(19), '1'.repeat(20), 'abc', Number.MAX_SAFE_INTEGER + 2),
      ),
      op: fc.constantFrom('upsert', 'delete', 'insert', 1),
      data: fc.oneof(fc.constant(null), fc.constant({}), fc.constant({ id: '1' }), fc.constant([]), fc.constant('x'), fc.constant(1)),
      createdAt: fc.oneof(
        instant,
        fc.constantFrom(
          '2024-02-29T00:00:00.000Z',
          '2023-02-29T00:00:00.000Z',
          '2024-02-30T00:00:00.000Z',
          '2024-13-01T00:00:00.000Z',
          '2024-01-01T24:00:00.000Z',
          '2024-01-01T23:59:60.000Z',
          '2024-01-01T00:00:00Z',
          '2024-01-01T00:00:00.000+01:00',
          '0000-02-29T00:00:00.000Z',
          '1900-02-29T00:00:00.000Z',
          '2000-02-29T00:00:00.000Z',
          '2024-04-31T00:00:00.000Z',
          '2024-11-30T00:00:00.000Z',
          '2024-00-10T00:00:00.000Z',
          '2024-01-00T00:00:00.000Z',
          '2024-01-01T00:60:00.000Z',
        ),
        fc.string({ maxLength: 26 }),
        fc.date({ noInvalidDate: true }),
      ),
      correlationId: text(256),
      extra: fc.constant(1),
    };
    // A valid envelope with one field changed or left out, mostly, so that every rule is met and
    // broken on its own; sometimes several at once.
    const valid = wire({ correlationId: 'c-1' });
    const names = Object.keys(fields) as (keyof typeof fields)[];
    const oneField = fc.constantFrom(...names).chain((name) => fc.option(fields[name], { nil: undefined, freq: 8 }).map((value) => ({ [name]: value })));
    const changes = fc.oneof({ weight: 4, arbitrary: oneField }, { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) });
    const envelope = changes.map((changed) => {
      const out: Record<string, unknown> = { ...valid };
      for (const [name, value] of Object.entries(changed)) {
        if (value === undefined) Reflect.deleteProperty(out, name);
        else out[name] = value;
      }
      return out;
    });
    let taken = 0;
    fc.assert(
      fc.property(envelope, (value) => {
        const fast = plainEnvelope(value);
        if (fast === undefined) return;
        taken += 1;
        const reference = changeEventSchema.safeParse(value);
        expect(reference.success).toBe(true);
        expect(fast).toEqual(reference.data);
      }),
      propertyRuns(3000),
    );
    expect(taken).toBeGreaterThan(0);
  });
});

describe('documentProblem', () => {
  it('accepts an ordinary document', () => {
    expect(documentProblem({ id: '1', tags: ['a', 'b'], when: null, ok: true, n: 1.5 })).toBeUndefined();
  });

  it('measures a document exactly as JSON.stringify writes it in UTF-8, escapes and long numbers included', () => {
    // Keys and strings of any UTF-16 unit but the ones refused anyway (NUL, lone surrogates, unsafe
    // keys); numbers of every length. Accepted at its size in bytes, refused at one byte less.
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\u001f', '\u2028', '😀', 'é', '日'), fc.string({ unit: 'grapheme', maxLength: 1 })), maxLength: 12 }).filter((t) => !t.includes('\u0000') && t.isWellFormed());
    const key = text.filter((k) => k.length > 0 && !k.startsWith('$') && !k.includes('.') && !['__proto__', 'constructor', 'prototype'].includes(k));
    const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(-0.0000012345678901234567, 1e21, -2.2250738585072014e-308));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, text, number, fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
    }));
    const document = fc.dictionary(key, value, { maxKeys: 6 });
    fc.assert(
      fc.property(document, (doc) => {
        const bytes = Buffer.byteLength(JSON.stringify(doc), 'utf8');
        const limits = { ...defaultDocumentLimits, maxBytes: bytes };
        expect(documentProblem(doc as JsonObject, limits)).toBeUndefined();
        expect(documentProblem(doc as JsonObject, { ...limits, maxBytes: bytes - 1 })).toMatch(/bytes/);
      }),
      propertyRuns(300),
    );
  });
});

describe('changeEventToJson', () => {
  it('is the inverse of parseChangeEvent, large versions included', () => {
    const event = eventOf(wire({ version: '1876543210987654321', correlationId: 'req-7' }));
    expect(eventOf(JSON.parse(JSON.stringify(changeEventToJson(event))))).toEqual(event);
  });
});

describe('what no read model can store', () => {
  it.each([
    ['a NUL in a value', { id: '1', a: 'x\u0000' }, /^data\.a contains a NUL character/],
    ['a lone high surrogate in a value', { id: '1', a: ['\uD83D'] }, /^data\.a\[0\] contains a lone UTF-16 surrogate/],
    ['a lone low surrogate in a key', { id: '1', '\uDE00': 1 }, /^data: a key contains a lone UTF-16 surrogate/],
    ['a NUL in a nested key', { id: '1', a: { 'b\u0000': 1 } }, /^data\.a: a key contains a NUL character/],
  ])('documentProblem refuses %s', (_name, doc, reason) => {
    expect(documentProblem(doc)).toMatch(reason);
  });

  it('documentProblem keeps a surrogate pair', () => {
    expect(documentProblem({ id: '1', '😀': '😀' })).toBeUndefined();
  });

  it.each(['id', 'source', 'type', 'key', 'correlationId'])('parseChangeEvent refuses a NUL or a lone surrogate in %s', (field) => {
    expect(reasonOf(wire({ [field]: 'a\u0000' }))).toMatch(new RegExp(`^${field}: contains a NUL character`));
    expect(reasonOf(wire({ [field]: '\uDBFFa' }))).toMatch(new RegExp(`^${field}: contains a lone UTF-16 surrogate`));
  });

  it('never quotes the bad string in the reason', () => {
    expect(reasonOf(wire({ source: 'secret\u0000' }))).not.toContain('secret');
  });
});

describe('rejection reasons', () => {
  it('are well-formed text, even when they quote a key made of a lone surrogate', () => {
    const reason = reasonOf(wire({ '\uDC00': 'x' }));
    expect(reason).toContain('Unrecognized key');
    expect(reason.isWellFormed()).toBe(true);
  });
});
