import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../common/property.fixture.js';
import { parseJsonText } from './json.js';

const refusal = (text: string) => {
  const parsed = parseJsonText(text);
  if (parsed.ok) throw new Error(`expected a refusal of ${text}`);
  return parsed;
};

describe('parseJsonText', () => {
  it('parses JSON as JSON.parse does', () => {
    expect(parseJsonText('{"a":[1,2.5,-3e2,true,null],"b":"x"}')).toEqual({ ok: true, value: { a: [1, 2.5, -300, true, null], b: 'x' } });
  });

  it('refuses text that is not JSON as a syntax problem, without throwing', () => {
    const refused = refusal('{"a":');
    expect(refused.refused).toBe('syntax');
    expect(refused.reason).toMatch(/^JSON does not parse/);
  });

  it.each([
    ['an integer a double rounds', '9007199254740993'],
    ['a long integer', '123456789012345678901234567890'],
    ['a number that overflows to Infinity', '1e400'],
    ['a number that underflows to zero', '1e-400'],
    ['a fraction with more digits than a double keeps', '0.1000000000000000055511151231257827'],
    ['a negative number that rounds', '-9007199254740993'],
  ])('refuses %s', (_name, literal) => {
    const refused = refusal(`{"n":${literal}}`);
    expect(refused.refused).toBe('number');
    expect(refused.reason).toContain(`the number ${literal.slice(0, 40)}`);
  });

  it.each([
    ['the largest safe integer', '9007199254740991'],
    ['2^53, which a double holds', '9007199254740992'],
    ['trailing zeros', '1.500'],
    ['an exponent', '15e-1'],
    ['a large exponent', '1e308'],
    ['the smallest subnormal', '5e-324'],
    ['negative zero', '-0'],
    ['zero with a fraction and an exponent', '0.000e5'],
    ['a shortest round-trip form', '0.30000000000000004'],
  ])('keeps %s', (_name, literal) => {
    const parsed = parseJsonText(`[${literal}]`);
    expect(parsed).toEqual({ ok: true, value: [Number(literal)] });
  });

  it('looks only at numbers, never inside strings or keys', () => {
    expect(parseJsonText('{"9007199254740993":"1e400 and \\"9007199254740993\\""}').ok).toBe(true);
  });

  it('keeps any JSON a serializer writes, whatever its strings hold, and refuses a number added outside them (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
        // Strings full of digits, exponents, quotes and backslashes, around any JSON value.
        const json = JSON.stringify({ [`${text}1e400`]: `"9007199254740993\\${text}`, value });
        const parsed = parseJsonText(json);
        expect(parsed.ok).toBe(true);
        const refused = parseJsonText(`${json.slice(0, -1)},"n":[9007199254740993]}`);
        expect(refused).toMatchObject({ ok: false, refused: 'number' });
        expect(refused.ok ? '' : refused.reason).toContain('the number 9007199254740993 at n[0]');
      }),
      propertyRuns(300),
    );
  });

  it('names the first number that cannot be stored, shortened', () => {
    const long = '1'.repeat(60);
    expect(refusal(`[1, ${long}, 1e400]`).reason).toBe(`the number ${'1'.repeat(40)}… at [1] cannot be stored exactly (a JSON number is a 64-bit double); send it as a string`);
  });
});

describe('parseJsonText reasons', () => {
  it('are well-formed text even when the error falls inside a surrogate pair', () => {
    const refused = refusal('\u{10000}');
    expect(refused.reason.isWellFormed()).toBe(true);
    expect(refused.reason).toMatch(/^JSON does not parse: /);
  });
});

describe('parseJsonText names where a number sits', () => {
  it.each([
    ['at the top', '9007199254740993', ''],
    ['in an object', '{"a":1,"n":1e400}', ' at n'],
    ['deep inside', '{"a":{"b":[1,{"c":[0,1e-400]}]}}', ' at a.b[1].c[1]'],
    ['after strings that look like structure', '{"x":"{[,]}\\"","k\\"ey":[{},[],9007199254740993]}', ' at ["k\\"ey"][2]'],
    ['under a key that is not a plain name', '{"a b":{"日本":1e400}}', ' at ["a b"]["日本"]'],
  ])('%s', (_name, text, where) => {
    const { reason } = refusal(text);
    expect(reason.startsWith('the number ')).toBe(true);
    expect(reason.split(' cannot be stored exactly')[0]).toMatch(/^the number \S+/);
    expect(reason).toContain(`${where} cannot be stored exactly`);
    if (where === '') expect(reason).not.toContain(' at ');
  });
});
