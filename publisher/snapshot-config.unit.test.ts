import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadSnapshotConfig } from './snapshot-config.js';
import { progressBar, snapshotSummary } from './snapshot-progress.js';

describe('npm run snapshot: its configuration', () => {
  it('takes the collection and chunk size from the command line, and the outbox from the publisher\'s variables', () => {
    const config = loadSnapshotConfig({ OUTBOX_DATABASE_URL: 'postgres://u@db/app', SNAPSHOT_CHUNK_SIZE: '250' }, ['--collection', 'orders']);
    expect(config).toMatchObject({ collection: 'orders', chunkSize: 250, outbox: { kind: 'postgres', databaseUrl: 'postgres://u@db/app' } });
    expect(loadSnapshotConfig({}, ['--collection', 'orders', '--chunk-size', '50']).chunkSize).toBe(50);
    expect(loadSnapshotConfig({ DATA_DIR: '/var/tweetbus' }, ['--collection', 'orders']).outbox).toMatchObject({ kind: 'embedded', path: '/var/tweetbus/outbox' });
  });

  it('reports every problem at once, each naming its flag or variable', () => {
    let thrown: unknown;
    try {
      loadSnapshotConfig({ SNAPSHOT_CHUNK_SIZE: '0', OUTBOX: 'postgres' }, ['--chunk-size', 'lots']);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const issues = thrown instanceof ConfigError ? thrown.issues.join('\n') : '';
    for (const name of ['SNAPSHOT_CHUNK_SIZE', 'OUTBOX_DATABASE_URL', '--collection', '--chunk-size']) expect(issues).toContain(name);
  });

  it('refuses a collection name no trigger could give, a positional argument and an unknown flag', () => {
    expect(() => loadSnapshotConfig({}, ['--collection', 'orders; DROP TABLE x'])).toThrow(/--collection should be letters/);
    expect(() => loadSnapshotConfig({}, ['orders'])).toThrow(/no positional arguments/);
    expect(() => loadSnapshotConfig({}, ['--collection', 'orders', '--dry-run'])).toThrow(/Unknown option '--dry-run'/);
  });
});

describe('npm run snapshot: what it shows', () => {
  it('draws a bar of the rows enqueued against the rows the table had, never past 100%', () => {
    expect(progressBar({ table: 'dvx_orders', collection: 'orders', enqueued: 4_000, total: 10_000 }, 10)).toBe('[####------]  40%  4,000 / 10,000 rows  dvx_orders -> orders');
    expect(progressBar({ table: 't', collection: 'c', enqueued: 12, total: 10 }, 10)).toBe('[##########] 100%  12 / 10 rows  t -> c');
    expect(progressBar({ table: 't', collection: 'c', enqueued: 0, total: 0 }, 4)).toBe('[####] 100%  0 / 0 rows  t -> c');
  });

  it('ends with the rows, the time and the rate', () => {
    expect(snapshotSummary({ table: 'dvx_orders', collection: 'orders', enqueued: 10_000, resumed: false, ms: 2_000, stopped: false })).toBe(
      'snapshot of dvx_orders into collection orders: 10,000 rows enqueued in 2.0 s, 5,000 rows/s',
    );
    expect(snapshotSummary({ table: 't', collection: 'c', enqueued: 5, resumed: true, ms: 0, stopped: false })).toContain('(resumed after its last chunk)');
  });
});
