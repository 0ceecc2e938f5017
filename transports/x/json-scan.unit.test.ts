import { describe, expect, it } from 'vitest';
import { findJson, scanJsonValue } from './json-scan.js';

const reasonOf = (result: { ok: true } | { ok: false; reason: string }): string => (result.ok ? '' : result.reason);

describe('scanJsonValue', () => {
  it('ends at the bracket that balances the opening one', () => {
    const text = 'x {"a":[1,{"b":2}]} tail }';
    expect(scanJsonValue(text, 2, 8)).toEqual({ ok: true, start: 2, end: 19 });
  });

  it('ignores brackets and escaped quotes inside strings', () => {
    const text = '{"a":"}]\\"{["}';
    expect(scanJsonValue(text, 0, 8)).toEqual({ ok: true, start: 0, end: text.length });
  });

  it('fails on a mismatched bracket', () => {
    expect(reasonOf(scanJsonValue('{"a":[1}', 0, 8))).toMatch(/mismatched "}" at character 7/);
  });

  it('fails on a value that is never closed', () => {
    expect(scanJsonValue('{"a":1', 0, 8)).toMatchObject({ ok: false, reason: 'JSON is not closed' });
    expect(scanJsonValue('{"a":"1', 0, 8)).toMatchObject({ ok: false, reason: 'JSON has an unterminated string' });
  });

  it('fails before parsing when the nesting is deeper than allowed', () => {
    expect(reasonOf(scanJsonValue('[[[[1]]]]', 0, 3))).toMatch(/deeper than 3/);
    expect(scanJsonValue('[[[1]]]', 0, 3).ok).toBe(true);
    expect(reasonOf(scanJsonValue('['.repeat(100_000), 0, 10))).toMatch(/deeper than 10/);
  });
});

describe('findJson', () => {
  it('finds an object with text before and after it', () => {
    expect(findJson('see {"id":"1"} thanks!', 0, 8)).toEqual({ ok: true, value: { id: '1' } });
  });

  it('skips a bracketed word that is not JSON', () => {
    expect(findJson('[update] {"id":"1"}', 0, 8)).toEqual({ ok: true, value: { id: '1' } });
  });

  it('starts looking at the given position', () => {
    expect(findJson('{"id":"0"} #orders {"id":"1"}', 10, 8)).toEqual({ ok: true, value: { id: '1' } });
  });

  it('reports that no JSON is there', () => {
    expect(findJson('just words', 0, 8)).toEqual({ ok: false, refused: 'syntax', reason: 'no JSON object or array found' });
  });

  it('reports the parse error of the first opening when nothing parses', () => {
    expect(reasonOf(findJson("{'id':'1'} [x]", 0, 8))).toMatch(/^JSON does not parse/);
  });

  it('never picks a nested object out of a payload that does not parse', () => {
    expect(reasonOf(findJson('{"a" {"id":"1"}}', 0, 8))).toMatch(/^JSON does not parse/);
  });

  it('stops at a payload that is not closed', () => {
    expect(reasonOf(findJson('{"a":1 {"id":"1"}', 0, 8))).toBe('JSON is not closed');
  });
});
