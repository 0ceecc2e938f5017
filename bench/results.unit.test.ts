import { describe, expect, it } from 'vitest';
import {
  existingSectionRows,
  formatSnapshotRow,
  renderSnapshotResults,
  snapshotResultsHeader,
  ceilingsResultsHeader,
  consumerResultsHeader,
  formatCeilingsRow,
  type CeilingsResultRow,
  formatConsumerRow,
  renderConsumerResults,
  type ConsumerResultRow,
  existingRows,
  formatRelayRow,
  formatRow,
  maxResultRows,
  relayResultsHeader,
  renderRelayResults,
  renderResults,
  resultsHeader,
  type RelayResultRow,
  withTransportColumns,
  type ResultRow,
} from './results.js';

function aRow(overrides: Partial<ResultRow> = {}): ResultRow {
  return {
    date: '2025-01-02 03:04',
    machine: 'Some CPU, 2 cores, 8.0 GiB, Node v20.20.2',
    transport: 'x',
    store: 'embedded',
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

function aRelayRow(overrides: Partial<RelayResultRow> = {}): RelayResultRow {
  return {
    date: '2025-01-02 03:04',
    machine: 'Some CPU, 2 cores, 8.0 GiB, Node v20.20.2',
    postgres: '15.20',
    rows: 100_000,
    batchSize: '20',
    runs: 5,
    eventsPerSecond: 1949.4,
    slowestEventsPerSecond: 1800.2,
    fastestEventsPerSecond: 2101.7,
    readMsPerBatch: 2.804,
    publishMsPerBatch: 0.081,
    markMsPerBatch: 7.266,
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
    expect(row.split(/(?<!\\)\|/).length - 2).toBe(11);
  });

  it('rounds the numbers for reading', () => {
    expect(formatRow(aRow())).toBe('| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | x | embedded | 500 | 3 | 71.2 | 3187.3 | 5063.1 | 1015 | 500 |');
  });

  it("shows the writers' pace beside N when they kept to one", () => {
    expect(formatRow(aRow({ events: 1000, pace: 50 }))).toBe('| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | x | embedded | 1000 at 50/s | 3 | 71.2 | 3187.3 | 5063.1 | 1015 | 500 |');
  });

  it('names the transport and the store, and shows no posts for a transport that does not post', () => {
    expect(formatRow(aRow({ transport: 'redis-streams', store: 'postgres', posts: undefined }))).toBe(
      '| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | redis-streams | postgres | 500 | 3 | 71.2 | 3187.3 | 5063.1 | 1015 | - |',
    );
  });

  it('gives a row from before the transport and store columns x and embedded, and leaves its other cells alone', () => {
    const header = resultsHeader.replace(/\n$/, '');
    const older = [
      header,
      '| date (UTC) | machine | N | runs | events/s (median run) | p50 ms | p99 ms | peak RSS MiB | posts |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      '| 2026-11-23 18:50 | CPU \\| with pipe, 2 cores | 500 | 3 | 98.4 | 2388.2 | 4118.9 | 1034 | 500 |',
      '',
    ].join('\n');
    const text = renderResults(older, aRow({ transport: 'redis-streams', posts: undefined }));
    expect(existingRows(text)).toEqual([
      formatRow(aRow({ transport: 'redis-streams', posts: undefined })),
      '| 2026-11-23 18:50 | CPU \\| with pipe, 2 cores | x | embedded | 500 | 3 | 98.4 | 2388.2 | 4118.9 | 1034 | 500 |',
    ]);
    expect(text).toContain('| date (UTC) | machine | transport | store | N |');
    expect(text).not.toContain('| date (UTC) | machine | N |');
  });

  it('leaves a row that already has the transport and store columns as it was', () => {
    const row = formatRow(aRow({ store: 'postgres' }));
    expect(withTransportColumns(row)).toBe(row);
  });
});

describe('bench results file, relay section', () => {
  it('adds the relay section after the pipeline rows and keeps them', () => {
    const pipeline = renderResults('', aRow());
    const text = renderRelayResults(pipeline, [aRelayRow(), aRelayRow({ batchSize: '500' })]);
    expect(text.startsWith(resultsHeader)).toBe(true);
    expect(text).toContain(`\n${relayResultsHeader}\n`);
    expect(existingRows(text)).toEqual([formatRow(aRow())]);
    expect(existingSectionRows(text, 'relay')).toEqual([formatRelayRow(aRelayRow()), formatRelayRow(aRelayRow({ batchSize: '500' }))]);
  });

  it('leaves the relay rows alone when the pipeline bench adds its row', () => {
    const withRelay = renderRelayResults(renderResults('', aRow({ date: '2025-01-01 00:00' })), [aRelayRow()]);
    const text = renderResults(withRelay, aRow({ date: '2025-02-01 00:00' }));
    expect(existingRows(text)).toEqual([formatRow(aRow({ date: '2025-02-01 00:00' })), formatRow(aRow({ date: '2025-01-01 00:00' }))]);
    expect(existingSectionRows(text, 'relay')).toEqual([formatRelayRow(aRelayRow())]);
  });

  it('puts a new relay run first and keeps at most the newest twenty relay rows', () => {
    let text = renderResults('', aRow());
    for (let day = 1; day <= maxResultRows; day += 1) {
      const date = `2025-03-${String(day).padStart(2, '0')} 00:00`;
      text = renderRelayResults(text, [aRelayRow({ date }), aRelayRow({ date, batchSize: '500' })]);
    }
    const rows = existingSectionRows(text, 'relay');
    expect(rows).toHaveLength(maxResultRows);
    expect(rows[0]).toBe(formatRelayRow(aRelayRow({ date: '2025-03-20 00:00' })));
    expect(rows[1]).toBe(formatRelayRow(aRelayRow({ date: '2025-03-20 00:00', batchSize: '500' })));
    expect(rows.at(-1)).toContain('2025-03-11');
    expect(existingRows(text)).toEqual([formatRow(aRow())]);
  });

  it('starts a file that has no pipeline rows yet with an empty pipeline table', () => {
    const text = renderRelayResults('', [aRelayRow()]);
    expect(text.startsWith(resultsHeader)).toBe(true);
    expect(existingRows(text)).toEqual([]);
    expect(existingSectionRows(text, 'relay')).toEqual([formatRelayRow(aRelayRow())]);
  });

  it('rounds the numbers for reading', () => {
    expect(formatRelayRow(aRelayRow())).toBe(
      '| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | 15.20 | 100000 | 20 | 5 | 1949 | 1800 / 2102 | 2.80 | 0.08 | 7.27 |',
    );
  });
});

describe('bench results file, consumer section', () => {
  const aConsumerRow = (overrides: Partial<ConsumerResultRow> = {}): ConsumerResultRow => ({
    date: '2025-01-02 03:04',
    machine: 'Some CPU, 2 cores, 8.0 GiB, Node v20.20.2',
    store: 'postgres',
    events: 50_000,
    runs: 3,
    ceilingPerSecond: 32_886.4,
    consumerPerSecond: 21_064.2,
    ...overrides,
  });

  it('comes after the relay section, and every bench keeps the other sections\' rows', () => {
    let text = renderResults('', aRow());
    text = renderConsumerResults(text, aConsumerRow());
    text = renderRelayResults(text, [aRelayRow()]);
    text = renderConsumerResults(text, aConsumerRow({ store: 'embedded', date: '2025-01-03 00:00' }));
    text = renderResults(text, aRow({ date: '2025-02-01 00:00' }));

    expect(text.indexOf(relayResultsHeader)).toBeLessThan(text.indexOf(consumerResultsHeader));
    expect(existingRows(text)).toEqual([formatRow(aRow({ date: '2025-02-01 00:00' })), formatRow(aRow())]);
    expect(existingSectionRows(text, 'relay')).toEqual([formatRelayRow(aRelayRow())]);
    expect(existingSectionRows(text, 'consumer')).toEqual([formatConsumerRow(aConsumerRow({ store: 'embedded', date: '2025-01-03 00:00' })), formatConsumerRow(aConsumerRow())]);
  });

  it('gives the ratio in percent, the rates rounded', () => {
    expect(formatConsumerRow(aConsumerRow())).toBe('| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | postgres | 50000 | 3 | 32886 | 21064 | 64% |');
  });
});

describe('bench results file, ceilings section', () => {
  const aCeilingsRow = (overrides: Partial<CeilingsResultRow> = {}): CeilingsResultRow => ({
    date: '2025-01-02 03:04',
    machine: 'Some CPU, 2 cores, 8.0 GiB, Node v20.20.2',
    transport: 'redis-streams',
    store: 'postgres',
    writeDb: 'embedded',
    events: 2000,
    runs: 3,
    pipelinePerSecond: 600.4,
    writersInRun: { perSecond: 650.2, first: 610.7, last: 702.1 },
    writersAlonePerSecond: 800,
    publishPerSecond: 18_000,
    readPerSecond: 36_000,
    relayPerSecond: 12_000,
    upsertPerSecond: 15_000,
    services: { publisher: { readyMiB: 201.4, peakMiB: 230.6 }, consumer: { readyMiB: 210, peakMiB: 250.2 } },
    ...overrides,
  });

  it('gives each part alone beside the pipeline\'s share of it', () => {
    expect(formatCeilingsRow(aCeilingsRow())).toBe(
      '| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | redis-streams | postgres | embedded | 2000 | 3 | 600 | 650 (611 / 702) | 800 (75%) | 18000 (3%) | 36000 (2%) | 12000 (5%) | 15000 (4%) | 201 (231) | 210 (250) |',
    );
  });

  it('shows a dash where the services were not measured alone', () => {
    expect(formatCeilingsRow(aCeilingsRow({ services: undefined })).endsWith('| 15000 (4%) | - | - |')).toBe(true);
  });

  it('is written with the pipeline row, last in the file, and the other benches keep it', () => {
    let text = renderResults('', aRow(), aCeilingsRow());
    text = renderConsumerResults(text, { date: '2025-01-03 00:00', machine: 'm', store: 'embedded', events: 10, runs: 1, ceilingPerSecond: 2, consumerPerSecond: 1 });
    text = renderRelayResults(text, [aRelayRow()]);
    text = renderResults(text, aRow({ date: '2025-02-01 00:00' }));
    text = renderResults(text, aRow({ date: '2025-03-01 00:00' }), aCeilingsRow({ date: '2025-03-01 00:00' }));

    expect(text.indexOf(consumerResultsHeader)).toBeLessThan(text.indexOf(ceilingsResultsHeader));
    expect(existingRows(text)).toHaveLength(3);
    expect(existingSectionRows(text, 'relay')).toEqual([formatRelayRow(aRelayRow())]);
    expect(existingSectionRows(text, 'consumer')).toHaveLength(1);
    expect(existingSectionRows(text, 'ceilings')).toEqual([formatCeilingsRow(aCeilingsRow({ date: '2025-03-01 00:00' })), formatCeilingsRow(aCeilingsRow())]);
  });
});

describe('bench results file, snapshot section', () => {
  const aSnapshotRow = { date: '2025-01-02 03:04', machine: 'Some CPU, 2 cores, 8.0 GiB, Node v20.20.2', writeDb: 'postgres', rows: 100_000, runs: 3, chunkSize: 1000, rowsPerSecond: 34_664.2, slowestRowsPerSecond: 34_441, fastestRowsPerSecond: 40_437.6 } as const;

  it('comes last, and the other benches keep its rows', () => {
    let text = renderSnapshotResults(renderResults('', aRow()), aSnapshotRow);
    text = renderRelayResults(text, [aRelayRow()]);
    text = renderResults(text, aRow({ date: '2025-02-01 00:00' }));
    expect(text.indexOf(relayResultsHeader)).toBeLessThan(text.indexOf(snapshotResultsHeader));
    expect(existingSectionRows(text, 'snapshot')).toEqual([formatSnapshotRow(aSnapshotRow)]);
    expect(existingRows(text)).toHaveLength(2);
  });

  it('rounds the rates', () => {
    expect(formatSnapshotRow(aSnapshotRow)).toBe('| 2025-01-02 03:04 | Some CPU, 2 cores, 8.0 GiB, Node v20.20.2 | postgres | 100000 | 1000 | 3 | 34664 | 34441 / 40438 |');
  });
});
