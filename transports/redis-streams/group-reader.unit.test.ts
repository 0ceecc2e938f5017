import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../../common/property.fixture.js';
import { isReadReply, readReplySchema } from './group-reader.js';

describe('isReadReply (XREADGROUP replies checked in place)', () => {
  it('takes the replies Redis gives', () => {
    expect(isReadReply(null)).toBe(true);
    expect(isReadReply([])).toBe(true);
    expect(isReadReply([['s', [['1-0', ['event', '{}', 'key', 'k']], ['2-0', null]]]])).toBe(true);
  });

  it('refuses what the schema refuses, and takes nothing it would change', () => {
    // Mostly well formed, so that one wrong part at a time decides.
    const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: bad });
    const text = mostly(fc.string({ maxLength: 3 }), fc.constantFrom(1, null));
    const fields = mostly(fc.array(text, { maxLength: 4 }), fc.constant(null));
    const entry = mostly(fc.tuple(text, fields), fc.oneof(fc.tuple(text, fields, text), fc.array(text, { maxLength: 3 }), text));
    const entries = fc.array(entry, { maxLength: 3 });
    const stream = mostly(fc.tuple(text, entries), fc.oneof(fc.tuple(text, entries, text), fc.array(fc.anything(), { maxLength: 3 }), text));
    const reply = fc.oneof(fc.constant(null), fc.array(stream, { maxLength: 3 }), fc.anything());
    let taken = 0;
    fc.assert(
      fc.property(reply, (value) => {
        const reference = readReplySchema.safeParse(value);
        expect(isReadReply(value)).toBe(reference.success);
        if (!reference.success) return;
        taken += 1;
        expect(value).toEqual(reference.data);
      }),
      propertyRuns(2000),
    );
    expect(taken).toBeGreaterThan(100);
  });
});
