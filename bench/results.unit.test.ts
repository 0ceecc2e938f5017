import { describe, expect, it } from 'vitest';
import { existingRows, formatRow, maxResultRows, renderResults, resultsHeader, type ResultRow } from './results.js';

function aRow(overrides: Partial<ResultRow> = {}): ResultRow {
  return {
    date: '2025-01-02 03:04',
    machine: 'Some CPU, 2 cores, 8.0 GiB, Node v20.20.2',
    events: 500,
    runs: 3,
    eventsPerSecond: 71.234,
    p50Ms: 3187.25,
    p99Ms: 5063.14,
    peakRssMiB: 1015.4,
    posts: 500,
    ...overrides,
  };
}

describe('bench results file', () => {
  it('starts a new file with the header and one row', () => {
    const text = renderResults('', aRow());
    expect(text.startsWith(resultsHeader)).toBe(true);
    expect(existingRows(text)).toEqual([formatRow(aRow())]);
  });

  it('puts the newest row first and keeps the older rows as they were', () => {
    const first = renderResults('', aRow({ date: '2025-01-01 00:00', events: 200 }));
    const second = renderResults(first, aRow({ date: '2025-02-01 00:00' }));
    expect(existingRows(second)).toEqual([formatRow(aRow({ date: '2025-02-01 00:00' })), formatRow(aRow({ date: '2025-01-01 00:00', events: 200 }))]);
  });

  it('keeps at most the newest twenty rows', () => {
    let text = '';
    for (let day = 1; day <= maxResultRows + 5; day += 1) {
      text = renderResults(text, aRow({ date: `2025-03-${String(day).padStart(2, '0')} 00:00` }));
    }
    const rows = existingRows(text);
    expect(rows).toHaveLength(maxResultRows);
    expect(rows[0]).toContain('2025-03-25');
    expect(rows.at(-1)).toContain('2025-03-06');
  });

  it('escapes a pipe in the machine name so the table keeps its columns', () => {
    const row = formatRow(aRow({ machine: 'CPU | with pipe' }));
    expect(row).toContain('CPU \\| with pipe');
    expect(row.split(/(?<!\\)\|/).length - 2).toBe(9);
  });

  it('rounds the numbers for reading', () => {
    expect(formatRow(aRow())).toBe('| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | 500 | 3 | 71.2 | 3187.3 | 5063.1 | 1015 | 500 |');
  });
});
