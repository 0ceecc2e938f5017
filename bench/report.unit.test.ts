import { describe, expect, it } from 'vitest';
import { medianBy, resultDate, table } from './report.js';

describe('bench reporting helpers', () => {
  it('picks the middle run by the given value, whatever order the runs came in', () => {
    const runs = [{ run: 1, rate: 30 }, { run: 2, rate: 10 }, { run: 3, rate: 20 }];
    expect(medianBy(runs, (r) => r.rate)).toBe(runs[2]);
  });

  it('picks the lower middle run of an even count, so the median is a run that happened', () => {
    const runs = [{ rate: 40 }, { rate: 10 }, { rate: 30 }, { rate: 20 }];
    expect(medianBy(runs, (r) => r.rate)).toBe(runs[3]);
  });

  it('refuses to pick from no runs', () => {
    expect(() => medianBy([], () => 0)).toThrow(/no runs/);
  });

  it('writes the date in UTC, to the minute', () => {
    expect(resultDate(new Date('2025-01-02T03:04:59.999Z'))).toBe('2025-01-02 03:04');
  });

  it('right-aligns the console table under its headers', () => {
    expect(table(['a', 'bbb'], [['10', '2']])).toBe(' a  bbb\n--  ---\n10    2');
  });
});
